package {{ package }}.{{ slice }}.application

import {{ package }}.{{ slice }}.domain.{{ Slice }}
import {{ package }}.{{ slice }}.domain.{{ Slice }}Id
import java.util.UUID
import org.assertj.core.api.Assertions.assertThat
import org.junit.jupiter.api.Test

/** Unit tests of the use cases over an in-memory port: the hexagon tested without adapters. */
class {{ Slice }}ServiceTest {

    private class InMemory{{ Slice }}s : {{ Slice }}Repository {
        val kept = linkedMapOf<{{ Slice }}Id, {{ Slice }}>()

        override fun save({{ slice }}: {{ Slice }}) {
            kept[{{ slice }}.id] = {{ slice }}
        }

        override fun find(id: {{ Slice }}Id): {{ Slice }}? = kept[id]

        override fun all(): List<{{ Slice }}> = kept.values.toList()
    }

    private val repository = InMemory{{ Slice }}s()
    private val service = {{ Slice }}Service(repository)

    @Test
    fun `opened is kept`() {
        val opened = service.open("plan the week")
        assertThat(service.all()).containsExactly(opened)
    }

    @Test
    fun `complete marks done and saves`() {
        val opened = service.open("plan the week")
        assertThat(service.complete(opened.id)?.done).isTrue()
        assertThat(repository.kept.getValue(opened.id).done).isTrue()
    }

    @Test
    fun `completing an unknown id finds nothing`() {
        assertThat(service.complete({{ Slice }}Id(UUID.randomUUID()))).isNull()
    }
}
