package {{ package }}.{{ slice }}.adapter.persistence;

import {{ package }}.{{ slice }}.application.{{ Slice }}Repository;
import {{ package }}.{{ slice }}.domain.{{ Slice }};
import {{ package }}.{{ slice }}.domain.{{ Slice }}Id;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/** The driven adapter: {{ slice }}s in PostgreSQL (table `{{ slice }}`, see db/migration). */
@Repository
class Jdbc{{ Slice }}Repository implements {{ Slice }}Repository {

    private final JdbcClient jdbc;

    Jdbc{{ Slice }}Repository(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    @Override
    public void save({{ Slice }} {{ slice }}) {
        int updated = jdbc.sql("UPDATE {{ slice }} SET title = ?, done = ? WHERE id = ?")
                .params({{ slice }}.title(), {{ slice }}.done(), {{ slice }}.id().value())
                .update();
        if (updated == 0) {
            jdbc.sql("INSERT INTO {{ slice }} (id, title, done) VALUES (?, ?, ?)")
                    .params({{ slice }}.id().value(), {{ slice }}.title(), {{ slice }}.done())
                    .update();
        }
    }

    @Override
    public Optional<{{ Slice }}> find({{ Slice }}Id id) {
        return jdbc.sql("SELECT id, title, done FROM {{ slice }} WHERE id = ?")
                .param(id.value())
                .query(Jdbc{{ Slice }}Repository::row)
                .optional();
    }

    @Override
    public List<{{ Slice }}> all() {
        return jdbc.sql("SELECT id, title, done FROM {{ slice }} ORDER BY title")
                .query(Jdbc{{ Slice }}Repository::row)
                .list();
    }

    private static {{ Slice }} row(ResultSet rs, int rowNum) throws SQLException {
        return new {{ Slice }}(
                new {{ Slice }}Id(rs.getObject("id", UUID.class)), rs.getString("title"), rs.getBoolean("done"));
    }
}
