// The ad set form's "Add location": copies the formset's empty row and counts it in.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-formset-add]");
  if (!button) return;
  const fieldset = button.closest("[data-formset]");
  const prefix = fieldset.dataset.formset;
  const total = fieldset.querySelector(`input[name="${prefix}-TOTAL_FORMS"]`);
  const template = fieldset.querySelector("template[data-formset-empty]");
  const index = Number(total.value);
  const html = template.innerHTML.replaceAll("__prefix__", String(index));
  fieldset.querySelector("[data-formset-rows]").insertAdjacentHTML("beforeend", html);
  total.value = String(index + 1);
  const rows = fieldset.querySelectorAll("[data-formset-row]");
  rows[rows.length - 1].querySelector("select, input")?.focus();
});
