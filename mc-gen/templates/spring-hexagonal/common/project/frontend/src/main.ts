// Every slice's web components, registered once.
{%- for s in slices %}
import "./{{ s.slice }}-list.ts";
{%- endfor %}
