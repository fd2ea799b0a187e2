package {{ package }}.{{ slice }}.domain;

import java.util.Objects;
import java.util.UUID;

/** The identity of a {{ slice }}. */
public record {{ Slice }}Id(UUID value) {

    public {{ Slice }}Id {
        Objects.requireNonNull(value, "value");
    }
}
