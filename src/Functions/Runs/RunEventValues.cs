using AgentRuns.Functions.Model;

namespace AgentRuns.Functions.Runs;

/// <summary>An event a transition appends; the write that applies the transition gives it its seq.</summary>
public sealed record NewEvent(string Type, string ValueJson, bool Redacted = false);

/// <summary>
/// The arguments an approve dealt with, as <c>run.signal_received</c> shows them: the proposed ones, those approved (the human's
/// edits with secret-looking fields masked, as the payload they came in is), and whether the human changed them.
/// </summary>
public sealed record SignalArguments(string? Proposed, string? Approved, bool Edited);

/// <summary>What each event type says (docs/api.md, Events): the one place event values are shaped.</summary>
public static class RunEventValues
{
    public static NewEvent Created(string inputJson, string? metadataJson, string agent = Agents.AgentNames.Scripted) =>
        new(RunEventTypes.Created, JsonText.Object(w =>
        {
            w.WriteRaw("input", inputJson);
            w.WriteRaw("metadata", metadataJson);
            w.WriteString("agent", agent);
        }));

    public static NewEvent Started() => new(RunEventTypes.Started, "{}");

    /// <param name="argumentsJson">A tool's arguments, secrets already masked.</param>
    public static NewEvent Progress(int step, string tool, string summary, string? argumentsJson = null) =>
        new(RunEventTypes.Progress, JsonText.Object(w =>
        {
            w.WriteNumber("step", step);
            w.WriteString("tool", tool);
            w.WriteString("summary", summary);
            if (argumentsJson is not null)
            {
                w.WriteRaw("arguments", argumentsJson);
            }
        }));

    /// <param name="redacted">The agent masked secrets in the proposed action.</param>
    public static NewEvent AwaitingInput(PendingRequest request, bool redacted = false) => new(RunEventTypes.AwaitingInput, request.ToJson(), redacted);

    /// <param name="loggedPayloadJson">The payload with secrets masked: what the log may show.</param>
    /// <param name="arguments">For an approval of an action with arguments: the proposed and the approved arguments.</param>
    public static NewEvent SignalReceived(
        string requestId, string action, string? loggedPayloadJson, bool redacted, Actor? actor, SignalArguments? arguments = null) =>
        new(RunEventTypes.SignalReceived, JsonText.Object(w =>
        {
            w.WriteString("request_id", requestId);
            w.WriteString("action", action);
            w.WriteRaw("payload", loggedPayloadJson);
            if (arguments is { } a)
            {
                w.WriteRaw("proposed_arguments", a.Proposed);
                w.WriteRaw("approved_arguments", a.Approved);
                w.WriteBoolean("edited", a.Edited);
            }

            WriteActor(w, actor);
        }), redacted);

    public static NewEvent InputReminder(string requestId, DateTimeOffset expiresAt, int secondsBefore) =>
        new(RunEventTypes.InputReminder, JsonText.Object(w =>
        {
            w.WriteString("request_id", requestId);
            w.WriteTimestamp("expires_at", expiresAt);
            w.WriteNumber("seconds_before", secondsBefore);
        }));

    public static NewEvent InputExtended(string requestId, DateTimeOffset expiresAt, DateTimeOffset previousExpiresAt, Actor? actor) =>
        new(RunEventTypes.InputExtended, JsonText.Object(w =>
        {
            w.WriteString("request_id", requestId);
            w.WriteTimestamp("expires_at", expiresAt);
            w.WriteTimestamp("previous_expires_at", previousExpiresAt);
            WriteActor(w, actor);
        }));

    public static NewEvent Succeeded(string outputJson, bool redacted) =>
        new(RunEventTypes.Succeeded, JsonText.Object(w => w.WriteRaw("output", outputJson)), redacted);

    public static NewEvent Failed(RunError error) =>
        new(RunEventTypes.Failed, JsonText.Object(w =>
        {
            w.WriteString("reason_code", error.ReasonCode);
            w.WriteString("reason", error.Reason);
        }));

    public static NewEvent Cancelled(string reasonCode, Actor? actor, string? reason = null) =>
        new(RunEventTypes.Cancelled, JsonText.Object(w =>
        {
            w.WriteString("reason_code", reasonCode);
            if (reason is not null)
            {
                w.WriteString("reason", reason);
            }

            WriteActor(w, actor);
        }));

    /// <summary>A run's <c>error</c> as stored and shown.</summary>
    public static string ErrorJson(RunError error) => JsonText.Object(w =>
    {
        w.WriteString("reason_code", error.ReasonCode);
        w.WriteString("reason", error.Reason);
    });

    private static void WriteActor(System.Text.Json.Utf8JsonWriter w, Actor? actor)
    {
        if (actor is null)
        {
            return;
        }

        w.WriteStartObject("actor");
        w.WriteString("key_id", actor.KeyId);
        w.WriteString("name", actor.Name);
        w.WriteEndObject();
    }
}
