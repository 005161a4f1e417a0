using System.Net;

namespace AgentRuns.Functions.Webhooks;

/// <summary>Resolves a webhook URL's host name to its addresses (DNS; tests replace it).</summary>
public interface IWebhookHostResolver
{
    Task<IReadOnlyList<IPAddress>> ResolveAsync(string host, CancellationToken cancellationToken);
}

/// <summary>The system resolver.</summary>
public sealed class DnsWebhookHostResolver : IWebhookHostResolver
{
    public async Task<IReadOnlyList<IPAddress>> ResolveAsync(string host, CancellationToken cancellationToken) =>
        await Dns.GetHostAddressesAsync(host, cancellationToken);
}
