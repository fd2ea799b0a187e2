package {{ package }}.{{ slice }}.application;

import {{ package }}.{{ slice }}.domain.{{ Slice }};
import {{ package }}.{{ slice }}.domain.{{ Slice }}Id;
import java.util.List;
import java.util.Optional;

/** The driving port: what the outside world (web, messages) may ask of this slice. */
public interface {{ Slice }}UseCases {

    {{ Slice }} open(String title);

    Optional<{{ Slice }}> complete({{ Slice }}Id id);

    List<{{ Slice }}> all();
}
