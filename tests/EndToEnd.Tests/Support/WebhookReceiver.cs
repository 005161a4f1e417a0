using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AgentRuns.EndToEnd.Tests.Support;

/// <summary>A webhook request as the receiver got it, and whether its signature verified.</summary>
public sealed record ReceivedWebhook(string Path, string Id, long Timestamp, string Signature, string Body, bool SignatureValid, DateTimeOffset At)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement;

    public string Type => Json.GetProperty("type").GetString()!;

    public string RunId => Json.GetProperty("data").GetProperty("run_id").GetString()!;
}

/// <summary>
/// A webhook receiver inside the test process (Kestrel on 127.0.0.1, a free port), as a customer would write one: it verifies
/// every request's Standard Webhooks signature with the algorithm of the specification, computed here (HMAC-SHA256 over
/// <c>{webhook-id}.{webhook-timestamp}.{body}</c> with the base64-decoded <c>whsec_</c> secret, each space-separated signature
/// checked on its own, the timestamp within 5 minutes), records what came, and answers as the test says per path.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private static readonly TimeSpan Tolerance = TimeSpan.FromMinutes(5);
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedWebhook> _received = new();
    private readonly ConcurrentDictionary<string, string> _secrets = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Func<ReceivedWebhook, Task<int>>> _answers = new(StringComparer.Ordinal);

    private WebhookReceiver(WebApplication app)
    {
        _app = app;
        _app.MapPost("/{**path}", HandleAsync);
    }

    public string BaseUrl { get; private set; } = "";

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var receiver = new WebhookReceiver(builder.Build());
        await receiver._app.StartAsync();
        receiver.BaseUrl = receiver._app.Urls.Single();
        return receiver;
    }

    public string Url(string path) => $"{BaseUrl}/{path}";

    /// <summary>The secret the service gave the subscription that posts to <paramref name="path"/>.</summary>
    public void Verify(string path, string secret) => _secrets[path] = secret;

    public void Answer(string path, Func<ReceivedWebhook, Task<int>> answer) => _answers[path] = answer;

    public void Answer(string path, int status) => Answer(path, _ => Task.FromResult(status));

    public IReadOnlyList<ReceivedWebhook> ReceivedAt(string path) => [.. _received.Where(r => r.Path == path)];

    public Task<IReadOnlyList<ReceivedWebhook>> WaitForAsync(string path, Func<IReadOnlyList<ReceivedWebhook>, bool> until, TimeSpan? timeout = null, string? what = null) =>
        Eventually.GetAsync(() => Task.FromResult(ReceivedAt(path)), until, timeout ?? TimeSpan.FromSeconds(60), what ?? $"webhooks at /{path}");

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>The specification's verification, written out: true when one of the signatures matches and the timestamp is recent.</summary>
    public static bool IsValid(string secret, string id, string timestamp, string signatureHeader, string body)
    {
        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            || (DateTimeOffset.UtcNow - DateTimeOffset.FromUnixTimeSeconds(seconds)).Duration() > Tolerance)
        {
            return false;
        }

        var key = Convert.FromBase64String(secret.StartsWith("whsec_", StringComparison.Ordinal) ? secret["whsec_".Length..] : secret);
        var expected = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{id}.{timestamp}.{body}"));
        foreach (var signature in signatureHeader.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = signature.Split(',', 2);
            if (parts.Length == 2 && parts[0] == "v1" && TryBase64(parts[1]) is { } given && CryptographicOperations.FixedTimeEquals(given, expected))
            {
                return true;
            }
        }

        return false;
    }

    private static byte[]? TryBase64(string text)
    {
        var buffer = new byte[text.Length];
        return Convert.TryFromBase64String(text, buffer, out var written) ? buffer[..written] : null;
    }

    private async Task HandleAsync(HttpContext context, string path)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync();
        var headers = context.Request.Headers;
        var (id, timestamp, signature) = (headers["webhook-id"].ToString(), headers["webhook-timestamp"].ToString(), headers["webhook-signature"].ToString());
        var valid = _secrets.TryGetValue(path, out var secret) && IsValid(secret, id, timestamp, signature, body);
        var received = new ReceivedWebhook(
            path, id, long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var ts) ? ts : -1, signature, body, valid, DateTimeOffset.UtcNow);
        _received.Enqueue(received);
        context.Response.StatusCode = _answers.TryGetValue(path, out var answer) ? await answer(received) : StatusCodes.Status200OK;
    }
}
