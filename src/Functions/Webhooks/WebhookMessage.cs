using AgentRuns.Functions.Model;
using AgentRuns.Functions.Runs;
using StandardWebhooks;

namespace AgentRuns.Functions.Webhooks;

/// <summary>
/// What a delivery sends, signed as Standard Webhooks says: the body
/// <c>{"type": event type, "timestamp": when the event happened, "data": {"run_id": …, "event": the event exactly as the stream
/// shows it}}</c> (the specification's envelope), and the headers <c>webhook-id</c> (the message id, the same on every retry),
/// <c>webhook-timestamp</c> (unix seconds of this attempt) and <c>webhook-signature</c>
/// (<c>v1,</c> + base64 HMAC-SHA256 of <c>{id}.{timestamp}.{body}</c> keyed with the secret's base64-decoded bytes).
/// </summary>
public sealed record WebhookMessage(string Id, string Body)
{
    public const string IdHeader = "webhook-id";
    public const string TimestampHeader = "webhook-timestamp";
    public const string SignatureHeader = "webhook-signature";

    public static WebhookMessage For(string runId, RunEvent e)
    {
        ArgumentNullException.ThrowIfNull(runId);
        ArgumentNullException.ThrowIfNull(e);
        var streamEvent = ApiJson.Serialize(RunMapper.ToResource(e)); // byte for byte what the stream's data line carries
        var body = JsonText.Object(w =>
        {
            w.WriteString("type", e.Type);
            w.WriteTimestamp("timestamp", e.Timestamp);
            w.WriteStartObject("data");
            w.WriteString("run_id", runId);
            w.WriteRaw("event", streamEvent);
            w.WriteEndObject();
        });
        return new WebhookMessage(WebhookIds.Message(runId, e.Seq), body);
    }

    /// <summary>The three Standard Webhooks headers of an attempt made at <paramref name="attemptAt"/>.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers(string secret, DateTimeOffset attemptAt) =>
    [
        new(IdHeader, Id),
        new(TimestampHeader, attemptAt.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture)),
        new(SignatureHeader, Sign(secret, Id, attemptAt, Body)),
    ];

    /// <summary><c>v1,</c> + the signature (the StandardWebhooks package's implementation of the specification).</summary>
    public static string Sign(string secret, string id, DateTimeOffset timestamp, string body) =>
        new StandardWebhook(secret).Sign(id, timestamp, body);
}
