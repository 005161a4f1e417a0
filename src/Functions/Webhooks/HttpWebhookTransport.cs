using System.Diagnostics;
using System.Net;
using System.Text;

namespace AgentRuns.Functions.Webhooks;

/// <summary>What one POST to a receiver came to: its status code, or an error (timeout, connection, refused address).</summary>
public sealed record WebhookAttemptResult(int? StatusCode, string? Error, TimeSpan Duration)
{
    public bool Delivered => StatusCode is >= 200 and < 300;

    public bool Gone => StatusCode == (int)HttpStatusCode.Gone;
}

/// <summary>Sends one signed webhook request. <see cref="HttpWebhookTransport"/> in the app; tests use recording fakes.</summary>
public interface IWebhookTransport
{
    Task<WebhookAttemptResult> PostAsync(
        Uri url, string body, IReadOnlyList<KeyValuePair<string, string>> headers, TimeSpan timeout, CancellationToken cancellationToken);
}

/// <summary>
/// POSTs webhooks over one pooled handler whose connections <see cref="PublicAddressConnector"/> opens: only to public addresses it
/// checked itself (so DNS rebinding is refused before a byte is sent), no proxy, no redirects (a 3xx is a failed attempt: a
/// redirect could point anywhere). The response body is not read.
/// </summary>
public sealed class HttpWebhookTransport : IWebhookTransport, IDisposable
{
    private readonly HttpClient _http;

    public HttpWebhookTransport(PublicAddressConnector connector)
    {
        ArgumentNullException.ThrowIfNull(connector);
        _http = new HttpClient(connector.CreateHandler(), disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("AgentRuns-Webhooks/1.0");
    }

    public async Task<WebhookAttemptResult> PostAsync(
        Uri url, string body, IReadOnlyList<KeyValuePair<string, string>> headers, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(url);
        ArgumentNullException.ThrowIfNull(headers);
        var watch = Stopwatch.StartNew();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
            var status = (int)response.StatusCode;
            string? error = status is >= 300 and < 400 ? "Redirects are not followed." : null;
            return new WebhookAttemptResult(status, error, watch.Elapsed);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new WebhookAttemptResult(null, $"Timed out after {timeout.TotalSeconds:0.#} s.", watch.Elapsed);
        }
        catch (HttpRequestException ex)
        {
            return new WebhookAttemptResult(null, PublicAddressConnector.Describe(ex), watch.Elapsed);
        }
    }

    public void Dispose() => _http.Dispose();
}
