package {{ package }}.{{ slice }}.application

import {{ package }}.{{ slice }}.domain.{{ Slice }}
import {{ package }}.{{ slice }}.domain.{{ Slice }}Id

/** The use cases of the slice, over its ports only: no framework, so it tests without one. */
class {{ Slice }}Service(private val repository: {{ Slice }}Repository) : {{ Slice }}UseCases {

    override fun open(title: String): {{ Slice }} = {{ Slice }}.open(title).also(repository::save)

    override fun complete(id: {{ Slice }}Id): {{ Slice }}? = repository.find(id)?.complete()?.also(repository::save)

    override fun all(): List<{{ Slice }}> = repository.all()
}
