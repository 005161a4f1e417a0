using System.Text.Json;
using AgentRuns.Functions.Model;

namespace AgentRuns.Functions.Runs;

/// <summary>
/// A run's record: its state and the one place every race about it is decided. It is changed only through
/// <see cref="RunTransitions"/> and written only by <c>RunStore.ApplyAsync</c>, together with the events that the change
/// appends, in one conditional write.
/// </summary>
public sealed record RunRecord
{
    public required string TenantId { get; init; }

    public required string RunId { get; init; }

    public required string Status { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>The run's <c>input</c>, as the client sent it.</summary>
    public required string InputJson { get; init; }

    public string? MetadataJson { get; init; }

    public required int SignalTimeoutSeconds { get; init; }

    /// <summary>The agent the run chose (<c>scripted</c>, <c>model</c>, <c>worker:…</c>).</summary>
    public string Agent { get; init; } = Agents.AgentNames.Scripted;

    /// <summary>The request the run waits on, while <see cref="Status"/> is awaiting_input.</summary>
    public PendingRequest? Pending { get; init; }

    /// <summary>The last accepted answer: a late timer finds it here, a retried signal is answered from it, and until the
    /// orchestration has consumed it, the repairer raises it again.</summary>
    public Answer? LastAnswer { get; init; }

    public string? OutputJson { get; init; }

    public RunError? Error { get; init; }

    /// <summary>The seq of the last event in the run's log. Events are appended only with the record, so this is the log's end.</summary>
    public long LastEventSeq { get; init; }

    /// <summary>How many of its numbered writes the orchestration has applied: a retried write is recognised and not applied twice.</summary>
    public int AppliedWrites { get; init; }

    /// <summary>The reminders of the pending request already sent (seconds before its deadline), since it opened or was extended.</summary>
    public IReadOnlyList<int> RemindersSent { get; init; } = [];

    /// <summary>The cancel that ended the run, if one did: its retry is told accepted again.</summary>
    public string? CancelAttempt { get; init; }

    /// <summary>
    /// Every extend that moved the deadline of the run's latest request (kept until the next request opens): a retry of any of
    /// them (its write landed, its answer was lost), whatever landed since, is told what it did instead of extending again.
    /// </summary>
    public ExtendLog? Extends { get; init; }

    /// <summary>The key of the pending request's row in the tenant's inbox, when it has one (kept by the run store).</summary>
    public string? InboxKey { get; init; }

    public bool IsTerminal => RunStatus.IsTerminal(Status);
}

/// <summary>
/// The extends that moved one request's deadline, in order, each named by a hash of its attempt (<see cref="Hash"/>): at most
/// <see cref="RunLimits.MaxExtendsPerRequest"/>, so the record stays small whatever a client does.
/// </summary>
public sealed record ExtendLog(string RequestId, IReadOnlyList<ExtendMark> Marks)
{
    /// <summary>The mark of an extend whose attempt is not known (it can never be recognised, but it counts).</summary>
    public const string Unnamed = "-";

    /// <summary>An attempt's name as the record keeps it: 16 characters, whatever the attempt's length.</summary>
    public static string Hash(string attempt)
    {
        ArgumentNullException.ThrowIfNull(attempt);
        var digest = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(attempt));
        return Convert.ToBase64String(digest, 0, 12).Replace('+', '-').Replace('/', '_');
    }

    /// <summary>What the extend named <paramref name="attempt"/> did to <paramref name="requestId"/>, if it landed.</summary>
    public ExtendMark? Find(string requestId, string? attempt)
    {
        if (attempt is null || !string.Equals(RequestId, requestId, StringComparison.Ordinal))
        {
            return null;
        }

        var hash = Hash(attempt);
        return Marks.FirstOrDefault(m => string.Equals(m.Attempt, hash, StringComparison.Ordinal));
    }

    /// <summary>The marks as stored: <c>hash,from ticks,to ticks</c>, separated by <c>;</c>.</summary>
    public string MarksText() => string.Join(';', Marks.Select(m => string.Create(
        System.Globalization.CultureInfo.InvariantCulture, $"{m.Attempt},{m.From.UtcTicks},{m.To.UtcTicks}")));

    public static ExtendLog FromText(string requestId, string marks) => new(
        requestId,
        [.. marks.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(m => m.Split(',')).Select(m => new ExtendMark(
            m[0],
            new DateTimeOffset(long.Parse(m[1], System.Globalization.CultureInfo.InvariantCulture), TimeSpan.Zero),
            new DateTimeOffset(long.Parse(m[2], System.Globalization.CultureInfo.InvariantCulture), TimeSpan.Zero)))]);
}

/// <summary>One extend that landed: its attempt's hash, and the deadline it moved from and to.</summary>
public sealed record ExtendMark(string Attempt, DateTimeOffset From, DateTimeOffset To);

/// <summary>What a run waits for: stored with the run and shown as <c>pending_input</c> and in <c>run.awaiting_input</c>.</summary>
/// <param name="ResponseSchemaJson">JSON Schema (2020-12) of what the human supplies: a <c>submit_input</c> payload, or the
/// <c>arguments</c> of an approve with edits.</param>
/// <param name="AllowEdits">An <c>approve</c> may replace the proposed action's arguments (<c>payload.arguments</c>).</param>
/// <param name="TimeoutSeconds">How long the human was given when the request opened.</param>
/// <param name="Reminders">Seconds before <see cref="ExpiresAt"/> at which <c>run.input_reminder</c> goes out while unanswered.</param>
public sealed record PendingRequest(
    string RequestId,
    string InputKind,
    string Prompt,
    IReadOnlyList<string> AllowedActions,
    DateTimeOffset ExpiresAt,
    string? ProposedActionJson = null,
    string? ResponseSchemaJson = null,
    bool AllowEdits = false,
    int TimeoutSeconds = 0,
    IReadOnlyList<int>? Reminders = null)
{
    public string ReasonCode => InputKinds.ReasonCodeFor(InputKind);

    /// <summary>The request as the API shows it. Built once, stored as it is, and parsed back with <see cref="FromJson"/>.</summary>
    public string ToJson() => JsonText.Object(w =>
    {
        w.WriteString("request_id", RequestId);
        w.WriteString("reason_code", ReasonCode);
        w.WriteString("input_kind", InputKind);
        w.WriteString("prompt", Prompt);
        w.WriteStrings("allowed_actions", AllowedActions);
        w.WriteTimestamp("expires_at", ExpiresAt);
        w.WriteRaw("proposed_action", ProposedActionJson);
        w.WriteRaw("response_schema", ResponseSchemaJson);
        w.WriteBoolean("allow_edits", AllowEdits);
        w.WriteNumber("timeout_seconds", TimeoutSeconds);
        w.WriteStartArray("reminders");
        foreach (var reminder in Reminders ?? [])
        {
            w.WriteNumberValue(reminder);
        }

        w.WriteEndArray();
    });

    public static PendingRequest FromJson(string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        return new PendingRequest(
            root.GetProperty("request_id").GetString()!,
            root.GetProperty("input_kind").GetString()!,
            root.GetProperty("prompt").GetString()!,
            [.. root.GetProperty("allowed_actions").EnumerateArray().Select(a => a.GetString()!)],
            root.GetProperty("expires_at").GetDateTimeOffset(),
            StoredJson.Raw(root, "proposed_action"),
            StoredJson.Raw(root, "response_schema"),
            root.TryGetProperty("allow_edits", out var edits) && edits.ValueKind == JsonValueKind.True,
            root.TryGetProperty("timeout_seconds", out var timeout) && timeout.TryGetInt32(out var seconds) ? seconds : 0,
            root.TryGetProperty("reminders", out var reminders) && reminders.ValueKind == JsonValueKind.Array
                ? [.. reminders.EnumerateArray().Select(r => r.GetInt32())]
                : []);
    }
}

/// <summary>An accepted answer to a request.</summary>
/// <param name="ApprovedActionJson">For an approve: the action approved (the proposed one, with the human's arguments if edited).</param>
/// <param name="IdempotencyKey">The idempotency key of the request that answered, if it had one: its retry gets the same 202.</param>
/// <param name="PayloadJson">What the human sent (the run goes on with it); dropped once the orchestration has consumed the answer.</param>
public sealed record Answer(
    string RequestId,
    string Action,
    DateTimeOffset AcceptedAt,
    Actor? Actor,
    string? IdempotencyKey,
    string? PayloadJson,
    bool Consumed = false,
    string? ApprovedActionJson = null)
{
    public string ToJson() => JsonText.Object(w =>
    {
        w.WriteString("request_id", RequestId);
        w.WriteString("action", Action);
        w.WriteTimestamp("accepted_at", AcceptedAt);
        if (Actor is not null)
        {
            w.WriteStartObject("actor");
            w.WriteString("key_id", Actor.KeyId);
            w.WriteString("name", Actor.Name);
            w.WriteEndObject();
        }

        if (IdempotencyKey is not null)
        {
            w.WriteString("idempotency_key", IdempotencyKey);
        }

        w.WriteRaw("payload", PayloadJson);
        w.WriteBoolean("consumed", Consumed);
        w.WriteRaw("approved_action", ApprovedActionJson);
    });

    public static Answer FromJson(string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        Actor? actor = null;
        if (root.TryGetProperty("actor", out var a) && a.ValueKind == JsonValueKind.Object)
        {
            actor = new Actor(a.GetProperty("key_id").GetString()!, a.GetProperty("name").GetString()!);
        }

        return new Answer(
            root.GetProperty("request_id").GetString()!,
            root.GetProperty("action").GetString()!,
            root.GetProperty("accepted_at").GetDateTimeOffset(),
            actor,
            root.TryGetProperty("idempotency_key", out var k) ? k.GetString() : null,
            StoredJson.Raw(root, "payload"),
            root.TryGetProperty("consumed", out var c) && c.GetBoolean(),
            StoredJson.Raw(root, "approved_action"));
    }

}

/// <summary>Reads the stored JSON of requests and answers.</summary>
internal static class StoredJson
{
    /// <summary>The raw text of a member, or null when it is absent or null.</summary>
    public static string? Raw(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value.GetRawText() : null;
}

/// <summary>An event as it is stored: numbered by the write that appended it.</summary>
public sealed record RunEvent(long Seq, string Type, DateTimeOffset Timestamp, bool Redacted, string ValueJson);
