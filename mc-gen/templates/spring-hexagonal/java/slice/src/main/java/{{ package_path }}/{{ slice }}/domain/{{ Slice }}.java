package {{ package }}.{{ slice }}.domain;

import java.util.Objects;
import java.util.UUID;

/**
 * A {{ slice }}: the slice's domain model. Plain Java, no framework: the architecture test keeps
 * it so, so that the domain can be modelled and tested first.
 */
public record {{ Slice }}({{ Slice }}Id id, String title, boolean done) {

    public {{ Slice }} {
        Objects.requireNonNull(id, "id");
        if (title == null || title.isBlank()) {
            throw new IllegalArgumentException("a {{ slice }} needs a title");
        }
        title = title.strip();
    }

    /** A new, open {{ slice }}. */
    public static {{ Slice }} open(String title) {
        return new {{ Slice }}(new {{ Slice }}Id(UUID.randomUUID()), title, false);
    }

    /** This {{ slice }}, done. */
    public {{ Slice }} complete() {
        return new {{ Slice }}(id, title, true);
    }
}
