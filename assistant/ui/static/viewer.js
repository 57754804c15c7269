// js_on_load of the source viewer (a gr.HTML): `element`, `trigger` and `watch` come from Gradio.
// Answers are sanitised by the chat, so citation links carry their target in the href
// ("#src-<turn>-<n>"). One listener on the document turns a click on such a link into a
// click event of the viewer, whose handler renders the source; when the viewer's content
// changes, the highlighted sentence is scrolled into view.
window.newsAssistantOpenSource = (turn, n) => trigger("click", { turn, n });

if (!window.newsAssistantCiteListener) {
  window.newsAssistantCiteListener = true;
  document.addEventListener("click", (event) => {
    const link =
      event.target instanceof Element ? event.target.closest('a[href^="#src-"]') : null;
    if (!link) return;
    const match = /^#src-(\d+)-(\d+)$/.exec(link.getAttribute("href") || "");
    if (!match) return;
    event.preventDefault();
    for (const a of document.querySelectorAll("a.cite-active")) a.classList.remove("cite-active");
    link.classList.add("cite-active");
    window.newsAssistantOpenSource(Number(match[1]), Number(match[2]));
  });
}

watch("value", () => {
  const mark = element.querySelector("mark");
  if (!mark) return;
  const box = element.querySelector(".viewer-body");
  if (box) {
    const offset = mark.getBoundingClientRect().top - box.getBoundingClientRect().top;
    box.scrollTop += offset - box.clientHeight / 3;
  }
  const rect = element.getBoundingClientRect();
  if (rect.top < 0 || rect.top > window.innerHeight - 120) {
    element.scrollIntoView({ block: "start", behavior: "smooth" });
  }
});

// "Copy as Markdown" and "Download .md" under each answer: the Markdown is the answer's
// <pre class="md-text"> (rendered by the server); without clipboard access (a page served
// over plain http to another machine) the Markdown is shown so it can be copied by hand.
if (!window.newsAssistantMarkdownListener) {
  window.newsAssistantMarkdownListener = true;
  document.addEventListener("click", (event) => {
    const link =
      event.target instanceof Element ? event.target.closest("a.md-copy, a.md-download") : null;
    if (!link) return;
    event.preventDefault();
    const box = link.closest(".answer-export")?.querySelector("details");
    const text = box?.querySelector("pre.md-text")?.textContent || "";
    if (link.classList.contains("md-download")) {
      const url = URL.createObjectURL(new Blob([text], { type: "text/markdown" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = "answer.md";
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      return;
    }
    const done = () => {
      link.textContent = "Copied";
      setTimeout(() => (link.textContent = "Copy as Markdown"), 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, () => box && (box.open = true));
    } else if (box) {
      box.open = true;
    }
  });
}
