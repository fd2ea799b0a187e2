package {{ package }}

import org.springframework.boot.autoconfigure.SpringBootApplication
import org.springframework.boot.runApplication

/**
 * The application: every vertical slice below this package is found by component scan. No bean
 * proxies, so Kotlin's final classes need no all-open plugin.
 */
@SpringBootApplication(proxyBeanMethods = false)
class Application

fun main(args: Array<String>) {
    runApplication<Application>(*args)
}
