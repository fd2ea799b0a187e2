package {{ package }}.{{ slice }}.domain;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** Unit tests of the domain: no Spring, no database. */
class {{ Slice }}Test {

    @Test
    void aNew{{ Slice }}IsOpenWithItsTitleTrimmed() {
        {{ Slice }} {{ slice }} = {{ Slice }}.open("  write the tests first ");
        assertThat({{ slice }}.title()).isEqualTo("write the tests first");
        assertThat({{ slice }}.done()).isFalse();
    }

    @Test
    void completingKeepsTheIdentity() {
        {{ Slice }} {{ slice }} = {{ Slice }}.open("ship it");
        assertThat({{ slice }}.complete()).isEqualTo(new {{ Slice }}({{ slice }}.id(), "ship it", true));
    }

    @Test
    void aBlankTitleIsRefused() {
        assertThatThrownBy(() -> {{ Slice }}.open(" ")).isInstanceOf(IllegalArgumentException.class);
    }
}
