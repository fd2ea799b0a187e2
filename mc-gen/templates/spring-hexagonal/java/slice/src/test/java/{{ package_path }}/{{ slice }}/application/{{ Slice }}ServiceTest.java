package {{ package }}.{{ slice }}.application;

import static org.assertj.core.api.Assertions.assertThat;

import {{ package }}.{{ slice }}.domain.{{ Slice }};
import {{ package }}.{{ slice }}.domain.{{ Slice }}Id;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** Unit tests of the use cases over an in-memory port: the hexagon tested without adapters. */
class {{ Slice }}ServiceTest {

    static final class InMemory{{ Slice }}s implements {{ Slice }}Repository {
        final Map<{{ Slice }}Id, {{ Slice }}> kept = new LinkedHashMap<>();

        @Override
        public void save({{ Slice }} {{ slice }}) {
            kept.put({{ slice }}.id(), {{ slice }});
        }

        @Override
        public Optional<{{ Slice }}> find({{ Slice }}Id id) {
            return Optional.ofNullable(kept.get(id));
        }

        @Override
        public List<{{ Slice }}> all() {
            return new ArrayList<>(kept.values());
        }
    }

    private final InMemory{{ Slice }}s repository = new InMemory{{ Slice }}s();
    private final {{ Slice }}Service service = new {{ Slice }}Service(repository);

    @Test
    void openedIsKept() {
        {{ Slice }} opened = service.open("plan the week");
        assertThat(service.all()).containsExactly(opened);
    }

    @Test
    void completeMarksDoneAndSaves() {
        {{ Slice }} opened = service.open("plan the week");
        assertThat(service.complete(opened.id())).hasValueSatisfying(done -> assertThat(done.done()).isTrue());
        assertThat(repository.kept.get(opened.id()).done()).isTrue();
    }

    @Test
    void completingAnUnknownIdFindsNothing() {
        assertThat(service.complete(new {{ Slice }}Id(UUID.randomUUID()))).isEmpty();
    }
}
