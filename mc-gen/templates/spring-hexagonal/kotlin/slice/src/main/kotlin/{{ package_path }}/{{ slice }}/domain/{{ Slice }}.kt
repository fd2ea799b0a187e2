package {{ package }}.{{ slice }}.domain

import java.util.UUID

/** The identity of a {{ slice }}. */
data class {{ Slice }}Id(val value: UUID)

/**
 * A {{ slice }}: the slice's domain model. Plain Kotlin, no framework: the architecture test keeps
 * it so, so that the domain can be modelled and tested first.
 */
data class {{ Slice }}(val id: {{ Slice }}Id, val title: String, val done: Boolean) {

    init {
        require(title.isNotBlank()) { "a {{ slice }} needs a title" }
    }

    /** This {{ slice }}, done. */
    fun complete(): {{ Slice }} = copy(done = true)

    companion object {
        /** A new, open {{ slice }}. */
        fun open(title: String): {{ Slice }} = {{ Slice }}({{ Slice }}Id(UUID.randomUUID()), title.trim(), false)
    }
}
