// What the pages ask for by data attributes. The Content-Security-Policy runs no inline
// handlers (onclick=...), so every bit of page behaviour lives here.
//   <form data-confirm="Удалить?">     asks before submitting (destructive actions)
//   <select data-autosubmit>           submits its form when changed
//   <input type="checkbox" data-check-all="input[name=ids]">  ticks or clears those boxes
//   <form data-submit-on-load>         submits itself once the page is read (deferred script)
for (const form of document.querySelectorAll("form[data-submit-on-load]")) form.submit();
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  const submitter = event.submitter;
  const question = (submitter && submitter.dataset.confirm) || (form && form.dataset.confirm);
  if (question && !window.confirm(question)) event.preventDefault();
});
document.addEventListener("change", (event) => {
  const element = event.target;
  if (element.matches("[data-autosubmit]") && element.form) element.form.submit();
  if (element.matches("[data-check-all]")) {
    for (const box of document.querySelectorAll(element.dataset.checkAll)) box.checked = element.checked;
  }
});
