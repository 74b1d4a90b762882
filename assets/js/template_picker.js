// The composer's template picker, improved: choosing a template opens its form at once, and the preview fills in
// as the variables are typed. Without this script the same happens through "Use this template" and "Preview".
(function () {
  if (window.conversureTemplatePicker) return;
  window.conversureTemplatePicker = true;

  // The body with {{n}} replaced by the n-th typed value; a placeholder still empty stays visible.
  function fill(body, form) {
    return body.replace(/\{\{\s*(\d+)\s*\}\}/g, function (whole, n) {
      var input = form.querySelector('[data-variable="' + n + '"]');
      var value = input ? input.value.trim() : '';
      return value === '' ? whole : value;
    });
  }

  document.addEventListener('input', function (event) {
    var input = event.target;
    if (!input.matches || !input.matches('#template-form [data-variable]')) return;
    var form = input.form;
    var preview = document.getElementById('template-preview-body');
    if (form && preview) preview.textContent = fill(form.getAttribute('data-template-body') || '', form);
  });

  document.addEventListener('change', function (event) {
    var select = event.target;
    if (!select.matches || !select.matches('#template-select[data-autosubmit]') || !select.form) return;
    if (select.form.requestSubmit) select.form.requestSubmit(); else select.form.submit();
  });
})();
