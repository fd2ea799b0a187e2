// Vite serves the components and proxies /api to the application (mvn spring-boot:run);
// Vitest runs the component tests in happy-dom.
import { defineConfig } from "vite";

export default defineConfig({
  server: { proxy: { "/api": "http://127.0.0.1:8080" } },
  test: { environment: "happy-dom" },
});
