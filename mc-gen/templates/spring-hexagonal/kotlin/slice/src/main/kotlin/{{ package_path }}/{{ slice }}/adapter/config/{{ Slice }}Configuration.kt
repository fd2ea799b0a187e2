package {{ package }}.{{ slice }}.adapter.config

import {{ package }}.{{ slice }}.application.{{ Slice }}Repository
import {{ package }}.{{ slice }}.application.{{ Slice }}Service
import {{ package }}.{{ slice }}.application.{{ Slice }}UseCases
import org.springframework.context.annotation.Bean
import org.springframework.context.annotation.Configuration

/** Wires the slice's use cases to its adapters: the one place where Spring meets the hexagon. */
@Configuration(proxyBeanMethods = false)
class {{ Slice }}Configuration {

    @Bean
    fun {{ slice }}UseCases(repository: {{ Slice }}Repository): {{ Slice }}UseCases = {{ Slice }}Service(repository)
}
