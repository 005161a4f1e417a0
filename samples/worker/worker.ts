// A sample HTTP worker (docs/api.md, "HTTP workers"): it drafts the weekly team update email, asks a human to approve sending
// it (the draft is the proposed action: they may approve it, edit it, ask for changes with submit_input, or reject it), and
// finishes. It checks every call's signature and refuses what it cannot verify. Node's standard library only.
//   WORKER_SECRET=whsec_… PORT=8788 node --import tsx samples/worker/worker.ts
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";

type Email = { to: string; subject: string; body: string };
type Answer = {
  request_id: string;
  input_kind: "approval" | "clarification" | "data";
  action: "approve" | "submit_input";
  payload: Record<string, unknown> | null;
  approved_action: { tool: string; arguments?: Record<string, unknown> } | null;
  actor: { key_id: string; name: string } | null;
};
type Step = {
  type: "agent.step";
  run_id: string;
  step_index: number;
  idempotency_key: string;
  input: { goal: string; to?: string };
  answers: Answer[];
};

const secret = process.env.WORKER_SECRET ?? "";
if (!secret.startsWith("whsec_")) {
  console.error("Set WORKER_SECRET to the secret that POST /v1/workers returned (whsec_…).");
  process.exit(2);
}
const key = Buffer.from(secret.slice("whsec_".length), "base64");
const port = Number(process.env.PORT ?? 8788);
const host = process.env.HOST ?? "127.0.0.1";
const maxBodyBytes = 256 * 1024;
const toleranceSeconds = 5 * 60;

/** Standard Webhooks: HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{raw body}"; any one v1 signature; a fresh timestamp. */
function verify(headers: IncomingHttpHeaders, rawBody: string): boolean {
  const id = String(headers["webhook-id"] ?? "");
  const timestamp = String(headers["webhook-timestamp"] ?? "");
  if (!id || !/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > toleranceSeconds) return false;
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${rawBody}`).digest();
  return String(headers["webhook-signature"] ?? "").split(" ").some((signature) => {
    const [version, value] = signature.split(",");
    const given = Buffer.from(value ?? "", "base64");
    return version === "v1" && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/** The email fields of an object a human sent (strings only). */
function emailFields(value: Record<string, unknown> | undefined | null): Partial<Email> {
  const fields: Partial<Email> = {};
  for (const name of ["to", "subject", "body"] as const) {
    if (typeof value?.[name] === "string") fields[name] = value[name] as string;
  }
  return fields;
}

/** The draft: made from the goal, with every change the humans asked for (submit_input), the latest last. */
function draft(step: Step): Email {
  const email: Email = {
    to: step.input.to ?? "team@example.com",
    subject: "Weekly team update",
    body: `Hi team,\n\nThis week: ${step.input.goal}\n\nHave a good weekend!`,
  };
  for (const answer of step.answers) {
    if (answer.action === "submit_input") Object.assign(email, emailFields(answer.payload));
  }
  return email;
}

/**
 * The decision for a step depends on the step alone (its index and the answers so far), so a retried step, which carries the
 * same idempotency key, gets the same answer, and this worker keeps no state.
 */
function decide(step: Step): object {
  const last = step.answers.at(-1);
  if (last?.action === "approve") {
    const email = { ...draft(step), ...emailFields(last.approved_action?.arguments) }; // the approver's edits win
    return { type: "finish", output: { email, approved_by: last.actor?.name ?? null, status: "queued (this sample sends nothing)" } };
  }
  if (step.step_index === 0) return { type: "work", tool: "draft_email", summary: "Drafted the weekly team update." };
  const email = draft(step);
  return {
    type: "approval",
    prompt: `Send "${email.subject}" to ${email.to}?`,
    action: { tool: "send_email", arguments: email },
    allow_edits: true,
    response_schema: {
      type: "object",
      properties: { to: { type: "string" }, subject: { type: "string" }, body: { type: "string" } },
      additionalProperties: false,
    },
  };
}

function reply(response: ServerResponse, status: number, body: object): void {
  response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

createServer((request, response) => {
  const chunks: Buffer[] = [];
  let size = 0;
  request.on("data", (chunk: Buffer) => {
    size += chunk.length;
    if (size <= maxBodyBytes) chunks.push(chunk);
  });
  request.on("end", () => {
    if (request.method !== "POST") return reply(response, 405, { error: "POST a step here." });
    if (size > maxBodyBytes) return reply(response, 413, { error: "Too large." });
    const rawBody = Buffer.concat(chunks).toString("utf8");
    if (!verify(request.headers, rawBody)) {
      console.warn(`refused a call whose signature does not verify (webhook-id ${request.headers["webhook-id"] ?? "none"})`);
      return reply(response, 401, { error: "The signature does not verify." });
    }
    let step: Step;
    try {
      step = JSON.parse(rawBody) as Step;
    } catch {
      return reply(response, 400, { error: "The body is not JSON." });
    }
    const decision = decide(step);
    console.log(`${step.run_id} step ${step.step_index} (${step.idempotency_key}): ${(decision as { type: string }).type}`);
    reply(response, 200, decision);
  });
}).listen(port, host, () => console.log(`worker listening on http://${host}:${port}/`));
