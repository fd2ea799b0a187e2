package {{ package }}.architecture

import com.tngtech.archunit.core.importer.ImportOption
import com.tngtech.archunit.junit.AnalyzeClasses
import com.tngtech.archunit.junit.ArchTest
import com.tngtech.archunit.lang.ArchRule
import com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses
import com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices

/**
 * The architecture guardrails, as tests: every slice is a hexagon (a domain that knows nothing
 * but itself, application ports, adapters outside), and slices do not reach into each other.
 * A violation fails `mvn verify` and names the rule.
 */
@AnalyzeClasses(packages = ["{{ package }}"], importOptions = [ImportOption.DoNotIncludeTests::class])
class ArchitectureTest {

    companion object {
        @JvmField
        @ArchTest
        val domainIsFrameworkFree: ArchRule = noClasses()
            .that().resideInAPackage("{{ package }}.*.domain..")
            .should().dependOnClassesThat().resideOutsideOfPackages(
                // The Kotlin standard library and the nullability annotations the compiler adds.
                "java..", "kotlin..", "org.jetbrains.annotations..", "{{ package }}.*.domain..",
            )
            .`as`("hexagon: a domain depends on nothing but the JDK and its own slice's domain")

        @JvmField
        @ArchTest
        val applicationDoesNotKnowAdapters: ArchRule = noClasses()
            .that().resideInAPackage("{{ package }}.*.application..")
            .should().dependOnClassesThat().resideInAnyPackage(
                "{{ package }}.*.adapter..", "org.springframework..",
            )
            .`as`("hexagon: the application layer (ports, use cases) knows neither adapters nor Spring")

        @JvmField
        @ArchTest
        val slicesAreIndependent: ArchRule = slices()
            .matching("{{ package }}.(*)..")
            .should().notDependOnEachOther()
            .`as`("slices: no slice depends on another slice's classes")
    }
}
