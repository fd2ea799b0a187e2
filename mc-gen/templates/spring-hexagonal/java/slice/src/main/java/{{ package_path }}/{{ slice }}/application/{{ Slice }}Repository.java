package {{ package }}.{{ slice }}.application;

import {{ package }}.{{ slice }}.domain.{{ Slice }};
import {{ package }}.{{ slice }}.domain.{{ Slice }}Id;
import java.util.List;
import java.util.Optional;

/** The driven port: where {{ slice }}s are kept. An adapter implements it. */
public interface {{ Slice }}Repository {

    void save({{ Slice }} {{ slice }});

    Optional<{{ Slice }}> find({{ Slice }}Id id);

    List<{{ Slice }}> all();
}
