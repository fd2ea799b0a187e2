// The Groovy compiler's configuration: every class statically compiled, as Spring wants its
// beans, and so that every dependency is in the bytecode for the architecture tests.
withConfig(configuration) {
    ast(groovy.transform.CompileStatic)
}
