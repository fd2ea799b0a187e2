package {{ package }}.{{ slice }}.application

import {{ package }}.{{ slice }}.domain.{{ Slice }}
import {{ package }}.{{ slice }}.domain.{{ Slice }}Id

/** The driving port: what the outside world (web, messages) may ask of this slice. */
interface {{ Slice }}UseCases {
    fun open(title: String): {{ Slice }}

    fun complete(id: {{ Slice }}Id): {{ Slice }}?

    fun all(): List<{{ Slice }}>
}

/** The driven port: where {{ slice }}s are kept. An adapter implements it. */
interface {{ Slice }}Repository {
    fun save({{ slice }}: {{ Slice }})

    fun find(id: {{ Slice }}Id): {{ Slice }}?

    fun all(): List<{{ Slice }}>
}
