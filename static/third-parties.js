/* The case page's third-party review, progressively enhanced: selecting words in a record's
   text fills that record's "passage to mask" box and the place of the selection, so that
   exactly that place is masked. Without scripts the box is typed or pasted into. */
(function () {
  "use strict";
  function piece(node) {
    var element = node && (node.nodeType === 3 ? node.parentElement : node);
    return element && element.closest ? element.closest(".piece") : null;
  }
  function place(node, offset) {
    var found = piece(node);
    return found ? Number(found.getAttribute("data-at")) + offset : null;
  }
  function chosen(text) {
    var selection = window.getSelection();
    if (!selection || selection.isCollapsed || selection.rangeCount === 0) return;
    var range = selection.getRangeAt(0);
    if (!text.contains(range.startContainer) || !text.contains(range.endContainer)) return;
    var start = place(range.startContainer, range.startOffset);
    var end = place(range.endContainer, range.endOffset);
    if (start === null || end === null || end <= start) return;
    var whole = "";
    text.querySelectorAll(".piece").forEach(function (p) { whole += p.textContent; });
    var passage = whole.slice(start, end);
    var lead = passage.length - passage.replace(/^\s+/, "").length;
    passage = passage.trim();
    if (!passage) return;
    var form = document.getElementById(text.getAttribute("data-form"));
    if (!form) return;
    form.querySelector("textarea[name=passage]").value = passage;
    form.querySelector("input[name=start]").value = String(start + lead);
  }
  document.querySelectorAll(".review-text[data-form]").forEach(function (text) {
    text.addEventListener("mouseup", function () { chosen(text); });
    text.addEventListener("keyup", function () { chosen(text); });
    var form = document.getElementById(text.getAttribute("data-form"));
    if (!form) return;
    // A passage typed by hand is looked for everywhere in the text.
    form.querySelector("textarea[name=passage]").addEventListener("input", function () {
      form.querySelector("input[name=start]").value = "";
    });
  });
})();
