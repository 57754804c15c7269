// js_on_load of the feed list (a gr.HTML): `element` and `trigger` come from Gradio.
// "Remove" asks once more before it acts; the second click sends the feed's URL to the
// server as a click event of the list (the "also remove its articles" box goes with it).
function disarm(button) {
  clearTimeout(button.newsAssistantTimer);
  delete button.dataset.armed;
  button.classList.remove("armed");
  button.textContent = "Remove";
}

element.addEventListener("click", (event) => {
  const button =
    event.target instanceof Element ? event.target.closest("button.remove-feed") : null;
  if (!button || button.disabled) return;
  if (button.dataset.armed !== "yes") {
    for (const other of element.querySelectorAll('button.remove-feed[data-armed="yes"]')) {
      disarm(other);
    }
    button.dataset.armed = "yes";
    button.classList.add("armed");
    button.textContent = "Click again to remove";
    button.newsAssistantTimer = setTimeout(() => disarm(button), 5000);
    return;
  }
  clearTimeout(button.newsAssistantTimer);
  button.disabled = true;
  button.textContent = "Removing…";
  trigger("click", { remove_feed: button.dataset.removeFeed });
});
