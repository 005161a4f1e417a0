using System.Net;
using System.Net.Sockets;

namespace AgentRuns.Functions.Webhooks;

/// <summary>
/// Opens the connections of every request this service makes to a URL that a tenant gave it (webhook receivers, HTTP workers):
/// the <c>ConnectCallback</c> of a <see cref="SocketsHttpHandler"/> that resolves the host itself, checks every address with
/// <see cref="WebhookUrlPolicy"/> and connects only to an address it checked. So a name that resolved to a public address when
/// the URL was registered and resolves to a private one now (DNS rebinding) is refused before a byte is sent. Its handlers use
/// no proxy (it would connect elsewhere), follow no redirects (a redirect could point anywhere) and keep no cookies.
/// </summary>
public sealed class PublicAddressConnector(WebhookUrlPolicy policy, IWebhookHostResolver resolver)
{
    private const int MaxErrorLength = 300;

    /// <summary>A handler whose every connection goes through <see cref="ConnectAsync"/>.</summary>
    public SocketsHttpHandler CreateHandler() => new()
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(2), // new connections re-resolve and re-check the name
        ConnectTimeout = TimeSpan.FromSeconds(10),
        ConnectCallback = ConnectAsync,
    };

    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var host = context.DnsEndPoint.Host.Trim('[', ']').TrimEnd('.');
        IReadOnlyList<IPAddress> addresses = WebhookUrlPolicy.ParseLiteral(host) is { } literal
            ? [literal]
            : await resolver.ResolveAsync(host, cancellationToken);
        var scheme = context.InitialRequestMessage.RequestUri?.Scheme ?? Uri.UriSchemeHttps;
        if (addresses.Count == 0)
        {
            throw new WebhookAddressRefusedException($"The host '{host}' does not resolve.");
        }

        if (policy.CheckAddresses(scheme, addresses) is { } refusal)
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

    /// <summary>True when the request failed because the connect step refused the address.</summary>
    public static bool IsRefused(HttpRequestException ex) => Refusal(ex) is not null;

    /// <summary>What went wrong, for an attempt log or a run's reason: <c>Address not allowed: …</c> or <c>Connection failed: …</c>.</summary>
    public static string Describe(HttpRequestException ex)
    {
        ArgumentNullException.ThrowIfNull(ex);
        var text = Refusal(ex) is { } refused
            ? "Address not allowed: " + refused.Message
            : "Connection failed: " + (ex.InnerException?.Message ?? ex.Message);
        return text.Length <= MaxErrorLength ? text : text[..MaxErrorLength] + "…";
    }

    private static WebhookAddressRefusedException? Refusal(HttpRequestException ex) =>
        ex.InnerException as WebhookAddressRefusedException ?? ex.InnerException?.InnerException as WebhookAddressRefusedException;
}

/// <summary>The connect step refused the address a URL's host resolved to.</summary>
public sealed class WebhookAddressRefusedException(string message) : IOException(message);
