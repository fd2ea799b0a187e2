package {{ package }}.{{ slice }}.domain

import org.assertj.core.api.Assertions.assertThat
import org.assertj.core.api.Assertions.assertThatThrownBy
import org.junit.jupiter.api.Test

/** Unit tests of the domain: no Spring, no database. */
class {{ Slice }}Test {

    @Test
    fun `a new {{ slice }} is open with its title trimmed`() {
        val {{ slice }} = {{ Slice }}.open("  write the tests first ")
        assertThat({{ slice }}.title).isEqualTo("write the tests first")
        assertThat({{ slice }}.done).isFalse()
    }

    @Test
    fun `completing keeps the identity`() {
        val {{ slice }} = {{ Slice }}.open("ship it")
        assertThat({{ slice }}.complete()).isEqualTo({{ Slice }}({{ slice }}.id, "ship it", true))
    }

    @Test
    fun `a blank title is refused`() {
        assertThatThrownBy { {{ Slice }}.open(" ") }.isInstanceOf(IllegalArgumentException::class.java)
    }
}
