package {{ package }}.{{ slice }}.adapter.persistence;

import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.get;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.post;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.jsonPath;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.status;

import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.webmvc.test.autoconfigure.AutoConfigureMockMvc;
import org.springframework.test.web.servlet.MockMvc;

/**
 * The whole slice wired: HTTP in, the Flyway-migrated database out (H2 in PostgreSQL mode, or
 * PostgreSQL when TEST_DATABASE_URL is set).
 */
@SpringBootTest
@AutoConfigureMockMvc
class {{ Slice }}IntegrationTest {

    @Autowired
    MockMvc mvc;

    @Test
    void anOpened{{ Slice }}IsListedAndCanBeCompleted() throws Exception {
        String body = mvc.perform(post("/api/{{ slice }}s")
                        .contentType("application/json")
                        .content("{\"title\":\"deploy with minicluster\"}"))
                .andExpect(status().isCreated())
                .andReturn().getResponse().getContentAsString();
        String id = body.replaceAll(".*\"id\":\"([^\"]+)\".*", "$1");
        mvc.perform(post("/api/{{ slice }}s/" + id + "/complete"))
                .andExpect(status().isOk())
                .andExpect(jsonPath("$.done").value(true));
        mvc.perform(get("/api/{{ slice }}s"))
                .andExpect(status().isOk())
                .andExpect(jsonPath("$[?(@.id == '" + id + "')].done").value(true));
    }
}
