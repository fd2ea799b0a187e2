package {{ package }}.{{ slice }}.adapter.web;

import {{ package }}.{{ slice }}.application.{{ Slice }}UseCases;
import {{ package }}.{{ slice }}.domain.{{ Slice }};
import {{ package }}.{{ slice }}.domain.{{ Slice }}Id;
import java.util.List;
import java.util.UUID;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

/** The driving adapter: the slice's HTTP API under /api/{{ slice }}s. */
@RestController
@RequestMapping("/api/{{ slice }}s")
class {{ Slice }}Controller {

    record Open{{ Slice }}(String title) {}

    record {{ Slice }}View(UUID id, String title, boolean done) {
        static {{ Slice }}View of({{ Slice }} {{ slice }}) {
            return new {{ Slice }}View({{ slice }}.id().value(), {{ slice }}.title(), {{ slice }}.done());
        }
    }

    private final {{ Slice }}UseCases useCases;

    {{ Slice }}Controller({{ Slice }}UseCases useCases) {
        this.useCases = useCases;
    }

    @PostMapping
    @ResponseStatus(HttpStatus.CREATED)
    {{ Slice }}View open(@RequestBody Open{{ Slice }} request) {
        return {{ Slice }}View.of(useCases.open(request.title()));
    }

    @PostMapping("/{id}/complete")
    ResponseEntity<{{ Slice }}View> complete(@PathVariable UUID id) {
        return ResponseEntity.of(useCases.complete(new {{ Slice }}Id(id)).map({{ Slice }}View::of));
    }

    @GetMapping
    List<{{ Slice }}View> all() {
        return useCases.all().stream().map({{ Slice }}View::of).toList();
    }
}
