using System.Globalization;
using System.Text;
using AgentRuns.Functions.Webhooks;
using AgentRuns.Functions.Workers;
using Microsoft.Extensions.Options;
using Polly.Timeout;

namespace AgentRuns.Functions.Agents;

/// <summary>What one step's call of a worker came to: the answer's text, or why there is none (after the retries).</summary>
public sealed record WorkerCallResult(string? Body, string? Failure, int Attempts);

/// <summary>
/// Calls HTTP workers: one signed POST per step through the <see cref="HttpClientName"/> client, whose connections only reach
/// public addresses (<see cref="PublicAddressConnector"/>) and whose resilience handler retries 429, 408, 5xx, timeouts and lost
/// connections with back-off (<see cref="WorkerAgentServiceCollectionExtensions"/>). Each attempt is signed afresh by
/// <see cref="WorkerSigningHandler"/> (its own <c>webhook-timestamp</c>); every attempt of a step carries the same
/// <c>webhook-id</c>. The answer is read up to <see cref="WorkerOptions.MaxResponseBytes"/>.
/// </summary>
public sealed class WorkerClient(IHttpClientFactory httpClients, IOptions<WorkerOptions> options)
{
    /// <summary>The named <see cref="HttpClient"/> worker calls go through.</summary>
    public const string HttpClientName = "Workers";

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public async Task<WorkerCallResult> CallAsync(Uri url, string secret, WebhookMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(url);
        ArgumentNullException.ThrowIfNull(message);
        var o = options.Value;
        var started = System.Diagnostics.Stopwatch.StartNew();
        var total = WorkerAgentServiceCollectionExtensions.TotalTimeout(o);
        var signing = new WorkerSigning(secret, message);
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(message.Body, Encoding.UTF8, "application/json") };
        request.Headers.Accept.ParseAdd("application/json");
        request.Options.Set(WorkerSigningHandler.Signing, signing);

        HttpResponseMessage response;
        try
        {
            response = await httpClients.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            return Failed(PublicAddressConnector.IsRefused(ex) ? PublicAddressConnector.Describe(ex) : $"{PublicAddressConnector.Describe(ex)}{Tries(signing)}", signing);
        }
        catch (TimeoutRejectedException ex) when (ex.Timeout == total)
        {
            return Failed($"It did not answer within the call's limit of {total.TotalSeconds:F0} s{Tries(signing)}.", signing);
        }
        catch (Exception ex) when (ex is TimeoutRejectedException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return Failed($"It did not answer within {o.TimeoutSeconds} s{Tries(signing)}.", signing);
        }

        using (response)
        {
            var status = (int)response.StatusCode;
            if (status is >= 300 and < 400)
            {
                return Failed($"It answered HTTP {status}; redirects are not followed.", signing);
            }

            if (status is < 200 or >= 300)
            {
                var retried = status is 408 or 429 or >= 500;
                return Failed($"It answered HTTP {status}{(retried ? Tries(signing) : " (not retried: a 4xx other than 408 and 429 is final)")}.", signing);
            }

            if (response.Content.Headers.ContentLength > o.MaxResponseBytes)
            {
                return Failed($"Its answer has {response.Content.Headers.ContentLength} bytes; at most {o.MaxResponseBytes} are read.", signing);
            }

            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            // The body is read within the attempt's timeout and within what is left of the call's total, so that the whole call
            // ends by its total limit (and the activity within the host's function timeout).
            var left = total - started.Elapsed;
            var bodyLimit = TimeSpan.FromTicks(Math.Max(TimeSpan.FromSeconds(1).Ticks, Math.Min(TimeSpan.FromSeconds(o.TimeoutSeconds).Ticks, left.Ticks)));
            deadline.CancelAfter(bodyLimit);
            try
            {
                var bytes = await ReadBoundedAsync(response.Content, o.MaxResponseBytes, deadline.Token);
                return bytes is null
                    ? Failed($"Its answer is longer than {o.MaxResponseBytes} bytes.", signing)
                    : new WorkerCallResult(StrictUtf8.GetString(SkipByteOrderMark(bytes)), null, signing.Attempts);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return Failed($"Its answer did not arrive in full within {Math.Ceiling(bodyLimit.TotalSeconds):F0} s.", signing);
            }
            catch (HttpRequestException ex)
            {
                return Failed($"Its answer broke off: {PublicAddressConnector.Describe(ex)}", signing);
            }
            catch (IOException ex)
            {
                return Failed($"Its answer broke off: {ex.Message}", signing);
            }
            catch (DecoderFallbackException)
            {
                return Failed("Its answer is not UTF-8 text.", signing);
            }
        }
    }

    /// <summary>The content's bytes, or null when there are more than <paramref name="max"/>.</summary>
    private static async Task<byte[]?> ReadBoundedAsync(HttpContent content, int max, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > max)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    /// <summary>A UTF-8 byte order mark in front of the JSON is allowed (RFC 8259 lets a parser ignore it) and skipped.</summary>
    private static ReadOnlySpan<byte> SkipByteOrderMark(byte[] bytes) =>
        bytes.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? bytes.AsSpan(3) : bytes;

    private static string Tries(WorkerSigning signing) =>
        signing.Attempts > 1 ? string.Create(CultureInfo.InvariantCulture, $" ({signing.Attempts} attempts)") : "";

    private static WorkerCallResult Failed(string why, WorkerSigning signing) => new(null, why, signing.Attempts);
}

/// <summary>What the signing handler needs for one step's call, and how many attempts it signed.</summary>
public sealed class WorkerSigning(string secret, WebhookMessage message)
{
    private int _attempts;

    public string Secret { get; } = secret;

    public WebhookMessage Message { get; } = message;

    public int Attempts => Volatile.Read(ref _attempts);

    internal void Counted() => Interlocked.Increment(ref _attempts);
}

/// <summary>
/// Signs each attempt of a worker call as Standard Webhooks says (<c>webhook-id</c>, <c>webhook-timestamp</c> of this attempt,
/// <c>webhook-signature</c>): it sits inside the resilience handler, so a retry after a back-off is signed with a fresh timestamp
/// and the worker's replay window never refuses it.
/// </summary>
public sealed class WorkerSigningHandler(TimeProvider time) : DelegatingHandler
{
    public static readonly HttpRequestOptionsKey<WorkerSigning> Signing = new("AgentRuns.WorkerSigning");

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!request.Options.TryGetValue(Signing, out var signing))
        {
            throw new InvalidOperationException("A worker call without its signing material.");
        }

        signing.Counted();
        foreach (var (name, value) in signing.Message.Headers(signing.Secret, time.GetUtcNow()))
        {
            request.Headers.Remove(name);
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return base.SendAsync(request, cancellationToken);
    }
}
