// The front page's behaviour: one calculator per function, the sequence stepper, copy. Served as
// its own file because the Content-Security-Policy allows no inline script.

const $ = (id) => document.getElementById(id);
const digits = new Intl.NumberFormat("en-US");
// A call that has not answered by then is given up, so the page never waits forever.
const CALL_TIMEOUT_MS = 30_000;
// Clicks on the stepper queue up to this many steps; more are refused until they drain.
const MAX_PENDING_STEPS = 20;

// The message of a failed call: the problem document's `detail` (RFC 9457), else the status.
async function failure(response) {
  try {
    const problem = await response.json();
    if (problem && typeof problem.detail === "string") return problem.detail;
  } catch (_) { /* not JSON: fall through */ }
  return `the server answered ${response.status} ${response.statusText}`.trim();
}

// Calls the API; resolves to the JSON document or throws an Error with the message to show.
async function call(method, path) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: { Accept: "application/json" },
      cache: "no-store",
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
    });
  } catch (error) {
    throw new Error(`cannot reach the server (${error.message})`);
  }
  if (!response.ok) throw new Error(await failure(response));
  return response.json();
}

function showError(element, message) {
  element.textContent = message;
  element.hidden = !message;
}

function countDigits(decimal) {
  const n = decimal.replace(/^-/, "").length;
  return `${digits.format(n)} digit${n === 1 ? "" : "s"}`;
}

// ---- calculators ----------------------------------------------------------------------

// Each form carries its function's route and formula (rendered from the function list):
// `/ackermann/{m}/{n}/` and `A(m, n)` become `/ackermann/3/4/` and `A(3, 4)`.
function calculatorOf(form) {
  const { route, formula } = form.dataset;
  return {
    label: (v) => formula.replace(/\b([a-z])\b/g, (name) => (name in v ? String(v[name]) : name)),
    path: (v) => route.replace(/\{(\w+)\}/g, (_, name) => v[name]),
  };
}

// Buttons are never disabled while a call is in flight: a disabled button drops keyboard
// focus. Instead only the latest computation may show its answer.
let latest = 0;

async function compute(form) {
  const calculator = calculatorOf(form);
  const values = {};
  for (const input of form.querySelectorAll("input")) {
    values[input.name] = encodeURIComponent(input.value.trim());
  }
  const ticket = ++latest;
  $("result-status").classList.remove("sr-only");
  $("result-status").textContent = `Computing ${calculator.label(values)}…`;
  try {
    const answer = await call("GET", calculator.path(values));
    if (ticket !== latest) return;
    showError($("result-error"), "");
    $("result-label").textContent = calculator.label(answer);
    $("result-digits").textContent = countDigits(answer.result);
    $("result-value").textContent = answer.result;
    $("copy-status").textContent = "";
    $("result-body").hidden = false;
    $("result-status").textContent = `${calculator.label(answer)} has ${countDigits(answer.result)}.`;
    $("result-status").classList.add("sr-only");
  } catch (error) {
    if (ticket !== latest) return;
    $("result-body").hidden = true;
    $("result-status").textContent = "";
    showError($("result-error"), error.message);
  }
}

// navigator.clipboard needs a secure context (https, localhost, 127.0.0.1); elsewhere the
// older selection + execCommand path still works.
async function copyResult() {
  const text = $("result-value").textContent;
  let copied = false;
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      copied = true;
    }
  } catch (_) { /* fall back below */ }
  if (!copied) {
    const range = document.createRange();
    range.selectNodeContents($("result-value"));
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    copied = document.execCommand("copy");
  }
  $("copy-status").textContent = copied ? "Copied." : "Select the number and copy it by hand.";
}

// ---- sequence stepper -------------------------------------------------------------------

// Steps run one after another, in click order: every click is one step, up to a bound.
let steps = Promise.resolve();
let pending = 0;

function step(operation) {
  if (pending >= MAX_PENDING_STEPS) {
    showError($("seq-error"), `${pending} steps are still on their way; wait for them first.`);
    return;
  }
  pending += 1;
  steps = steps.then(() => runStep(operation)).finally(() => { pending -= 1; });
}

async function runStep(operation) {
  try {
    const method = operation === "current" ? "GET" : "POST";
    const position = await call(method, `/fibonacci/${operation}`);
    showError($("seq-error"), "");
    $("seq-index").textContent = String(position.index);
    $("seq-digits").textContent = countDigits(position.value);
    $("seq-value").textContent = position.value;
  } catch (error) {
    showError($("seq-error"), error.message);
  }
}

// ---- wiring -----------------------------------------------------------------------------

for (const form of document.querySelectorAll("form[data-function]")) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    compute(form);
  });
}
$("copy").addEventListener("click", copyResult);
for (const button of document.querySelectorAll("#stepper button[data-operation]")) {
  button.addEventListener("click", () => step(button.dataset.operation));
}
// The Traefik dashboard is on another port of the same host.
$("traefik-link").href = `${location.protocol}//${location.hostname}:8080/dashboard/`;
step("current");
