using AgentRuns.Functions.Model;
using AgentRuns.Functions.Webhooks;

namespace AgentRuns.Functions.Agents;

/// <summary>
/// What an HTTP worker is sent for one step of a run (docs/api.md, "HTTP workers"):
/// <code>
/// {"type":"agent.step","run_id":"run_…","step_index":2,"idempotency_key":"step_…_2","worker":"email",
///  "input":{…the run's input…},
///  "answers":[{"request_id":"…","input_kind":"approval","prompt":"Send it?","action":"approve","payload":null,"approved_action":{…},"actor":{"key_id":"key_…","name":"…"}}]}
/// </code>
/// signed as a webhook is (Standard Webhooks: <c>webhook-id</c> is the idempotency key, the same on every attempt of the step).
/// The answers are those the run works with, payloads unmasked: the worker is the run's agent and acts on them, as the built-in
/// agents do. What the log masks is what people and other systems read.
/// </summary>
public static class WorkerStepMessage
{
    public const string Type = "agent.step";
    public const string KeyPrefix = "step_";

    /// <summary>The same for every attempt of step <paramref name="stepIndex"/> of the run, and for no other step.</summary>
    public static string IdempotencyKey(string runId, int stepIndex)
    {
        ArgumentNullException.ThrowIfNull(runId);
        var suffix = runId.StartsWith(RunIds.Prefix, StringComparison.Ordinal) ? runId[RunIds.Prefix.Length..] : runId;
        return $"{KeyPrefix}{suffix}_{stepIndex.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
    }

    public static WebhookMessage For(AgentStepInput input, string workerName)
    {
        ArgumentNullException.ThrowIfNull(input);
        var key = IdempotencyKey(input.RunId, input.StepIndex);
        var body = JsonText.Object(w =>
        {
            w.WriteString("type", Type);
            w.WriteString("run_id", input.RunId);
            w.WriteNumber("step_index", input.StepIndex);
            w.WriteString("idempotency_key", key);
            w.WriteString("worker", workerName);
            w.WriteRaw("input", input.InputJson);
            w.WriteStartArray("answers");
            foreach (var answer in input.Answers)
            {
                w.WriteStartObject();
                w.WriteString("request_id", answer.RequestId);
                w.WriteString("input_kind", answer.InputKind);
                w.WriteString("prompt", answer.Prompt);
                w.WriteString("action", answer.Action);
                w.WriteRaw("payload", answer.PayloadJson);
                w.WriteRaw("approved_action", answer.ApprovedActionJson);
                w.WritePropertyName("actor");
                if (answer.Actor is { } actor)
                {
                    w.WriteStartObject();
                    w.WriteString("key_id", actor.KeyId);
                    w.WriteString("name", actor.Name);
                    w.WriteEndObject();
                }
                else
                {
                    w.WriteNullValue();
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
        });
        return new WebhookMessage(key, body);
    }
}
