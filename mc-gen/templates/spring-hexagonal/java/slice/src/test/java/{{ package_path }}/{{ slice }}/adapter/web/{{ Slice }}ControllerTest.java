package {{ package }}.{{ slice }}.adapter.web;

import static org.mockito.BDDMockito.given;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.post;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.jsonPath;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.status;

import {{ package }}.{{ slice }}.application.{{ Slice }}UseCases;
import {{ package }}.{{ slice }}.domain.{{ Slice }};
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.webmvc.test.autoconfigure.WebMvcTest;
import org.springframework.http.MediaType;
import org.springframework.test.context.bean.override.mockito.MockitoBean;
import org.springframework.test.web.servlet.MockMvc;

/** A slice test: the web adapter alone, with its driving port mocked. */
@WebMvcTest({{ Slice }}Controller.class)
class {{ Slice }}ControllerTest {

    @Autowired
    MockMvc mvc;

    @MockitoBean
    {{ Slice }}UseCases useCases;

    @Test
    void postOpensA{{ Slice }}() throws Exception {
        given(useCases.open("review the ADRs")).willReturn({{ Slice }}.open("review the ADRs"));
        mvc.perform(post("/api/{{ slice }}s")
                        .contentType(MediaType.APPLICATION_JSON)
                        .content("{\"title\":\"review the ADRs\"}"))
                .andExpect(status().isCreated())
                .andExpect(jsonPath("$.title").value("review the ADRs"))
                .andExpect(jsonPath("$.done").value(false));
    }
}
