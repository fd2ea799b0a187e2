package {{ package }}.{{ slice }}.adapter.web

import {{ package }}.{{ slice }}.application.{{ Slice }}UseCases
import {{ package }}.{{ slice }}.domain.{{ Slice }}
import {{ package }}.{{ slice }}.domain.{{ Slice }}Id
import java.util.UUID
import org.springframework.http.HttpStatus
import org.springframework.http.ResponseEntity
import org.springframework.web.bind.annotation.GetMapping
import org.springframework.web.bind.annotation.PathVariable
import org.springframework.web.bind.annotation.PostMapping
import org.springframework.web.bind.annotation.RequestBody
import org.springframework.web.bind.annotation.RequestMapping
import org.springframework.web.bind.annotation.ResponseStatus
import org.springframework.web.bind.annotation.RestController

/** The driving adapter: the slice's HTTP API under /api/{{ slice }}s. */
@RestController
@RequestMapping("/api/{{ slice }}s")
class {{ Slice }}Controller(private val useCases: {{ Slice }}UseCases) {

    data class Open{{ Slice }}(val title: String)

    data class {{ Slice }}View(val id: UUID, val title: String, val done: Boolean) {
        companion object {
            fun of({{ slice }}: {{ Slice }}) = {{ Slice }}View({{ slice }}.id.value, {{ slice }}.title, {{ slice }}.done)
        }
    }

    @PostMapping
    @ResponseStatus(HttpStatus.CREATED)
    fun open(@RequestBody request: Open{{ Slice }}): {{ Slice }}View = {{ Slice }}View.of(useCases.open(request.title))

    @PostMapping("/{id}/complete")
    fun complete(@PathVariable id: UUID): ResponseEntity<{{ Slice }}View> =
        useCases.complete({{ Slice }}Id(id))?.let { ResponseEntity.ok({{ Slice }}View.of(it)) }
            ?: ResponseEntity.notFound().build()

    @GetMapping
    fun all(): List<{{ Slice }}View> = useCases.all().map({{ Slice }}View::of)
}
