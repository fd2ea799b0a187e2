import { afterEach, expect, test, vi } from "vitest";
import "./{{ slice }}-list.ts";
import type { {{ Slice }}List } from "./{{ slice }}-list.ts";

afterEach(() => {
  vi.unstubAllGlobals();
  document.body.innerHTML = "";
});

test("lists the {{ slice }}s the API returns, with a Done button for the open ones", async () => {
  const {{ slice }}s = [
    { id: "1", title: "write the tests first", done: false },
    { id: "2", title: "ship it", done: true },
  ];
  vi.stubGlobal("fetch", vi.fn(async () => new Response(JSON.stringify({{ slice }}s))));
  const list = document.createElement("{{ slice }}-list") as {{ Slice }}List;
  document.body.append(list);
  await vi.waitFor(() => expect(list.shadowRoot?.querySelectorAll("li").length).toBe(2));
  const items = [...list.shadowRoot!.querySelectorAll("li")];
  expect(items.map((item) => item.className)).toEqual(["open", "done"]);
  expect(items[0].querySelector("button")?.textContent).toBe("Done");
  expect(items[1].querySelector("button")).toBeNull();
});
