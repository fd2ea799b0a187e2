package {{ package }}.{{ slice }}.adapter.persistence

import {{ package }}.{{ slice }}.application.{{ Slice }}Repository
import {{ package }}.{{ slice }}.domain.{{ Slice }}
import {{ package }}.{{ slice }}.domain.{{ Slice }}Id
import java.util.UUID
import org.springframework.jdbc.core.RowMapper
import org.springframework.jdbc.core.simple.JdbcClient
import org.springframework.stereotype.Component

/**
 * The driven adapter: {{ slice }}s in PostgreSQL (table `{{ slice }}`, see db/migration). A plain
 * component, not `@Repository`: that would wrap Kotlin's final class in a proxy.
 */
@Component
class Jdbc{{ Slice }}Repository(private val jdbc: JdbcClient) : {{ Slice }}Repository {

    private val row = RowMapper { rs, _ ->
        {{ Slice }}({{ Slice }}Id(rs.getObject("id", UUID::class.java)), rs.getString("title"), rs.getBoolean("done"))
    }

    override fun save({{ slice }}: {{ Slice }}) {
        val updated = jdbc.sql("UPDATE {{ slice }} SET title = ?, done = ? WHERE id = ?")
            .params({{ slice }}.title, {{ slice }}.done, {{ slice }}.id.value)
            .update()
        if (updated == 0) {
            jdbc.sql("INSERT INTO {{ slice }} (id, title, done) VALUES (?, ?, ?)")
                .params({{ slice }}.id.value, {{ slice }}.title, {{ slice }}.done)
                .update()
        }
    }

    override fun find(id: {{ Slice }}Id): {{ Slice }}? =
        jdbc.sql("SELECT id, title, done FROM {{ slice }} WHERE id = ?").param(id.value).query(row).optional().orElse(null)

    override fun all(): List<{{ Slice }}> =
        jdbc.sql("SELECT id, title, done FROM {{ slice }} ORDER BY title").query(row).list()
}
