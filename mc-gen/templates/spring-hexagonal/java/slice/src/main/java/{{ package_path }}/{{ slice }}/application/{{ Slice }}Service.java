package {{ package }}.{{ slice }}.application;

import {{ package }}.{{ slice }}.domain.{{ Slice }};
import {{ package }}.{{ slice }}.domain.{{ Slice }}Id;
import java.util.List;
import java.util.Optional;

/** The use cases of the slice, over its ports only: no framework, so it tests without one. */
public class {{ Slice }}Service implements {{ Slice }}UseCases {

    private final {{ Slice }}Repository repository;

    public {{ Slice }}Service({{ Slice }}Repository repository) {
        this.repository = repository;
    }

    @Override
    public {{ Slice }} open(String title) {
        {{ Slice }} {{ slice }} = {{ Slice }}.open(title);
        repository.save({{ slice }});
        return {{ slice }};
    }

    @Override
    public Optional<{{ Slice }}> complete({{ Slice }}Id id) {
        return repository.find(id).map({{ Slice }}::complete).map(done -> {
            repository.save(done);
            return done;
        });
    }

    @Override
    public List<{{ Slice }}> all() {
        return repository.all();
    }
}
