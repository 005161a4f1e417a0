using System.Collections.Concurrent;
using AgentRuns.Functions.Webhooks;

namespace AgentRuns.Functions.Tests.Support;

/// <summary>A webhook request as the receiver got it.</summary>
public sealed record ReceivedWebhook(Uri Url, string Body, IReadOnlyDictionary<string, string> Headers, DateTimeOffset At)
{
    public string Type => System.Text.Json.JsonDocument.Parse(Body).RootElement.GetProperty("type").GetString()!;
}

/// <summary>
/// The integration tests' receivers: records every webhook the service sends and answers as the test says per URL (200 by
/// default), so tests see deliveries without a network. The real transport (address checks, HTTP) is tested on its own and
/// end to end over the local host.
/// </summary>
public sealed class RecordingWebhookTransport : IWebhookTransport
{
    private readonly ConcurrentQueue<ReceivedWebhook> _received = new();
    private readonly ConcurrentDictionary<string, Func<ReceivedWebhook, Task<int>>> _answers = new(StringComparer.Ordinal);

    /// <summary>Requests to <paramref name="url"/> get <paramref name="answer"/>'s status.</summary>
    public void Answer(string url, Func<ReceivedWebhook, Task<int>> answer) => _answers[url] = answer;

    public void Answer(string url, int status) => Answer(url, _ => Task.FromResult(status));

    public IReadOnlyList<ReceivedWebhook> ReceivedBy(string url) => [.. _received.Where(r => r.Url.ToString() == url)];

    public async Task<WebhookAttemptResult> PostAsync(
        Uri url, string body, IReadOnlyList<KeyValuePair<string, string>> headers, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var received = new ReceivedWebhook(url, body, headers.ToDictionary(h => h.Key, h => h.Value, StringComparer.OrdinalIgnoreCase), DateTimeOffset.UtcNow);
        _received.Enqueue(received);
        var status = _answers.TryGetValue(url.ToString(), out var answer) ? await answer(received) : 200;
        return new WebhookAttemptResult(status, null, DateTimeOffset.UtcNow - received.At);
    }
}
