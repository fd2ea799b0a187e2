package {{ package }}.{{ slice }}.adapter.persistence

import org.junit.jupiter.api.Test
import org.springframework.beans.factory.annotation.Autowired
import org.springframework.boot.test.context.SpringBootTest
import org.springframework.boot.webmvc.test.autoconfigure.AutoConfigureMockMvc
import org.springframework.test.web.servlet.MockMvc
import org.springframework.test.web.servlet.request.MockMvcRequestBuilders.get
import org.springframework.test.web.servlet.request.MockMvcRequestBuilders.post
import org.springframework.test.web.servlet.result.MockMvcResultMatchers.jsonPath
import org.springframework.test.web.servlet.result.MockMvcResultMatchers.status

/**
 * The whole slice wired: HTTP in, the Flyway-migrated database out (H2 in PostgreSQL mode, or
 * PostgreSQL when TEST_DATABASE_URL is set).
 */
@SpringBootTest
@AutoConfigureMockMvc
class {{ Slice }}IntegrationTest(@Autowired val mvc: MockMvc) {

    @Test
    fun `an opened {{ slice }} is listed and can be completed`() {
        val body = mvc.perform(
            post("/api/{{ slice }}s").contentType("application/json").content("""{"title":"deploy with minicluster"}"""),
        )
            .andExpect(status().isCreated())
            .andReturn().response.contentAsString
        val id = Regex("\"id\":\"([^\"]+)\"").find(body)!!.groupValues[1]
        mvc.perform(post("/api/{{ slice }}s/$id/complete"))
            .andExpect(status().isOk())
            .andExpect(jsonPath("$.done").value(true))
        mvc.perform(get("/api/{{ slice }}s"))
            .andExpect(status().isOk())
            .andExpect(jsonPath("$[?(@.id == '$id')].done").value(true))
    }
}
