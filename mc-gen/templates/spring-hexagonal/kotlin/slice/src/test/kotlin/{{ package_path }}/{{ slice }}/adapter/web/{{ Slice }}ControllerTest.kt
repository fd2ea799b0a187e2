package {{ package }}.{{ slice }}.adapter.web

import {{ package }}.{{ slice }}.application.{{ Slice }}UseCases
import {{ package }}.{{ slice }}.domain.{{ Slice }}
import org.junit.jupiter.api.Test
import org.mockito.BDDMockito.given
import org.springframework.beans.factory.annotation.Autowired
import org.springframework.boot.webmvc.test.autoconfigure.WebMvcTest
import org.springframework.http.MediaType
import org.springframework.test.context.bean.override.mockito.MockitoBean
import org.springframework.test.web.servlet.MockMvc
import org.springframework.test.web.servlet.request.MockMvcRequestBuilders.post
import org.springframework.test.web.servlet.result.MockMvcResultMatchers.jsonPath
import org.springframework.test.web.servlet.result.MockMvcResultMatchers.status

/** A slice test: the web adapter alone, with its driving port mocked. */
@WebMvcTest({{ Slice }}Controller::class)
class {{ Slice }}ControllerTest(@Autowired val mvc: MockMvc) {

    @MockitoBean
    lateinit var useCases: {{ Slice }}UseCases

    @Test
    fun `post opens a {{ slice }}`() {
        given(useCases.open("review the ADRs")).willReturn({{ Slice }}.open("review the ADRs"))
        mvc.perform(
            post("/api/{{ slice }}s").contentType(MediaType.APPLICATION_JSON).content("""{"title":"review the ADRs"}"""),
        )
            .andExpect(status().isCreated())
            .andExpect(jsonPath("$.title").value("review the ADRs"))
            .andExpect(jsonPath("$.done").value(false))
    }
}
