using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Options;

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
/// POSTs webhooks over one pooled <see cref="SocketsHttpHandler"/> whose <c>ConnectCallback</c> resolves the host itself,
/// checks every address with <see cref="WebhookUrlPolicy"/> and connects only to the addresses it checked: a name that resolved
/// to a public address when the subscription was made and to a private one now (DNS rebinding) is refused before a byte is
/// sent. No proxy (it would connect elsewhere), no redirects (a 3xx is a failed attempt: a redirect could point anywhere),
/// the response body is not read.
/// </summary>
public sealed class HttpWebhookTransport : IWebhookTransport, IDisposable
{
    private const int MaxErrorLength = 300;
    private readonly HttpClient _http;
    private readonly WebhookUrlPolicy _policy;
    private readonly IWebhookHostResolver _resolver;

    public HttpWebhookTransport(WebhookUrlPolicy policy, IWebhookHostResolver resolver)
    {
        _policy = policy;
        _resolver = resolver;
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            UseCookies = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2), // new connections re-resolve and re-check the name
            ConnectTimeout = TimeSpan.FromSeconds(10),
            ConnectCallback = ConnectCheckedAsync,
        };
        _http = new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
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
            return new WebhookAttemptResult(null, Describe(ex), watch.Elapsed);
        }
    }

    public void Dispose() => _http.Dispose();

    private async ValueTask<Stream> ConnectCheckedAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host.Trim('[', ']').TrimEnd('.');
        IReadOnlyList<IPAddress> addresses = WebhookUrlPolicy.ParseLiteral(host) is { } literal
            ? [literal]
            : await _resolver.ResolveAsync(host, cancellationToken);
        var scheme = context.InitialRequestMessage.RequestUri?.Scheme ?? Uri.UriSchemeHttps;
        if (addresses.Count == 0)
        {
            throw new WebhookAddressRefusedException($"The host '{host}' does not resolve.");
        }

        if (_policy.CheckAddresses(scheme, addresses) is { } refusal)
        {
            throw new WebhookAddressRefusedException(refusal);
        }

        SocketException? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, context.DnsEndPoint.Port), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                last = ex;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw last!;
    }

    private static string Describe(HttpRequestException ex)
    {
        var refused = ex.InnerException as WebhookAddressRefusedException ?? ex.InnerException?.InnerException as WebhookAddressRefusedException;
        var text = refused is not null
            ? "Address not allowed: " + refused.Message
            : "Connection failed: " + (ex.InnerException?.Message ?? ex.Message);
        return text.Length <= MaxErrorLength ? text : text[..MaxErrorLength] + "…";
    }
}

/// <summary>The connect step refused the address a webhook's host resolved to.</summary>
public sealed class WebhookAddressRefusedException(string message) : IOException(message);
