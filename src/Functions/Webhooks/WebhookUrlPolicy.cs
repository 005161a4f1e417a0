using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Webhooks;

/// <summary>
/// Which URLs a webhook may be delivered to: <c>https</c> to public addresses only, so that a subscription cannot make the
/// service call into its own network (SSRF): no loopback, private, shared (CGNAT), link-local (cloud metadata at
/// 169.254.169.254), multicast, reserved or documentation addresses, in IPv4 or IPv6 or IPv4 embedded in IPv6, and no host
/// name that resolves to any of them. No user info in the URL, no fragment, at most <see cref="MaxUrlLength"/> characters.
/// Checked when a subscription is created and again on every delivery, on the addresses actually connected to
/// (<see cref="HttpWebhookTransport"/>), so a name that later resolves elsewhere (DNS rebinding) is refused too.
/// <see cref="WebhookOptions.AllowLoopback"/> (development) also allows <c>http</c> and <c>https</c> to loopback addresses.
/// </summary>
public sealed class WebhookUrlPolicy(IOptions<WebhookOptions> options, IWebhookHostResolver resolver)
{
    public const int MaxUrlLength = 2048;

    /// <summary>How long a create waits for the host name to resolve.</summary>
    private static readonly TimeSpan ResolveTimeout = TimeSpan.FromSeconds(5);

    private bool AllowLoopback => options.Value.AllowLoopback;

    /// <summary>The URL, checked as a subscription's target (its host resolved), or why it is refused.</summary>
    public async Task<(Uri? Url, string? Refusal)> CheckAsync(string url, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (url.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
        {
            // At registration only: a URL stored before this rule keeps being delivered to as Uri reads it.
            return (null, "The URL must not contain spaces or control characters (encode them).");
        }

        var (uri, host, refusal) = CheckSyntax(url);
        if (refusal is not null)
        {
            return (null, refusal);
        }

        IReadOnlyList<IPAddress> addresses;
        if (ParseLiteral(host!) is { } literal)
        {
            addresses = [literal];
        }
        else
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(ResolveTimeout);
            try
            {
                addresses = await resolver.ResolveAsync(host!, deadline.Token);
            }
            catch (SocketException)
            {
                return (null, $"The host '{Shorten(host!)}' does not resolve.");
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return (null, $"The host '{Shorten(host!)}' did not resolve within {ResolveTimeout.TotalSeconds:0} s.");
            }

            if (addresses.Count == 0)
            {
                return (null, $"The host '{Shorten(host!)}' does not resolve.");
            }
        }

        refusal = CheckAddresses(uri!.Scheme, addresses);
        return refusal is null ? (uri, null) : (null, refusal);
    }

    /// <summary>
    /// Everything that can be told without resolving the host: length, absolute <c>http(s)</c>, no user info, no fragment. Returns
    /// the host as it will be looked up (IDN to ASCII, no trailing dot).
    /// </summary>
    public (Uri? Url, string? Host, string? Refusal) CheckSyntax(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (url.Length > MaxUrlLength)
        {
            return (null, null, $"The URL must be at most {MaxUrlLength} characters.");
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.IsFile || uri.IsUnc || string.IsNullOrEmpty(uri.Host))
        {
            return (null, null, "The URL must be an absolute https URL.");
        }

        if (uri.Scheme != Uri.UriSchemeHttps && !(AllowLoopback && uri.Scheme == Uri.UriSchemeHttp))
        {
            return (null, null, "The URL must use https.");
        }

        if (uri.UserInfo.Length > 0 || Authority(url).Contains('@', StringComparison.Ordinal))
        {
            return (null, null, "The URL must not contain user info (user:password@).");
        }

        if (uri.Fragment.Length > 0)
        {
            return (null, null, "The URL must not contain a fragment (#…).");
        }

        var host = uri.HostNameType == UriHostNameType.IPv6 ? uri.Host.Trim('[', ']') : uri.IdnHost.TrimEnd('.');
        return host.Length == 0 ? (null, null, "The URL must name a host.") : (uri, host, null);
    }

    /// <summary>
    /// Null when every address may be connected to for a URL of <paramref name="scheme"/>, else why not. All must pass: a name
    /// that resolves to one public and one private address is refused.
    /// </summary>
    public string? CheckAddresses(string scheme, IReadOnlyList<IPAddress> addresses)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        foreach (var address in addresses)
        {
            if (IsPublic(address))
            {
                if (scheme != Uri.UriSchemeHttps)
                {
                    return "The URL must use https.";
                }

                continue;
            }

            if (!(AllowLoopback && IsLoopback(address)))
            {
                return $"The URL's host is or resolves to {address}, which is not a public address.";
            }
        }

        return null;
    }

    /// <summary>An IP address written as the host (any spelling the resolver would accept: 2130706433, 0x7f.1, 127.1), or null for a name.</summary>
    public static IPAddress? ParseLiteral(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        return IPAddress.TryParse(host, out var address) ? address : null;
    }

    public static bool IsLoopback(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);
    }

    /// <summary>True for a globally routable unicast address; false for every special-purpose range (IANA registries).</summary>
    public static bool IsPublic(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
        {
            return IsPublic(address.MapToIPv4());
        }

        Span<byte> b = stackalloc byte[16];
        if (!address.TryWriteBytes(b, out var length))
        {
            return false;
        }

        return address.AddressFamily switch
        {
            AddressFamily.InterNetwork when length == 4 => IsPublicV4(b[0], b[1], b[2], b[3]),
            AddressFamily.InterNetworkV6 when length == 16 => IsPublicV6(b),
            _ => false,
        };
    }

    private static bool IsPublicV4(byte a, byte b, byte c, byte d) => !(
        a == 0                                       // 0.0.0.0/8 "this network"
        || a == 10                                   // 10.0.0.0/8 private
        || (a == 100 && b >= 64 && b <= 127)         // 100.64.0.0/10 shared address space (CGNAT)
        || a == 127                                  // 127.0.0.0/8 loopback
        || (a == 169 && b == 254)                    // 169.254.0.0/16 link-local, cloud metadata
        || (a == 172 && b >= 16 && b <= 31)          // 172.16.0.0/12 private
        || (a == 192 && b == 0 && c == 0)            // 192.0.0.0/24 IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)            // 192.0.2.0/24 TEST-NET-1
        || (a == 192 && b == 88 && c == 99)          // 192.88.99.0/24 6to4 relay anycast
        || (a == 192 && b == 168)                    // 192.168.0.0/16 private
        || (a == 198 && (b == 18 || b == 19))        // 198.18.0.0/15 benchmarking
        || (a == 198 && b == 51 && c == 100)         // 198.51.100.0/24 TEST-NET-2
        || (a == 203 && b == 0 && c == 113)          // 203.0.113.0/24 TEST-NET-3
        || a >= 224                                  // 224.0.0.0/4 multicast, 240.0.0.0/4 reserved, 255.255.255.255
        || (a, b, c, d) == (255, 255, 255, 255));

    private static bool IsPublicV6(ReadOnlySpan<byte> b)
    {
        // ::/96 (unspecified ::, loopback ::1, the deprecated IPv4-compatible ::a.b.c.d): never.
        if (b[..12].IndexOfAnyExcept((byte)0) < 0)
        {
            return false;
        }

        // 64:ff9b::/96 NAT64: the IPv4 address it stands for decides.
        if (b[..12].SequenceEqual(new byte[] { 0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 }))
        {
            return IsPublicV4(b[12], b[13], b[14], b[15]);
        }

        // Only 2000::/3 is global unicast: this refuses fc00::/7 unique local, fe80::/10 link-local, fec0::/10 site-local,
        // ff00::/8 multicast, 100::/64 discard, 64:ff9b:1::/48 local NAT64, and everything unassigned.
        if ((b[0] & 0xe0) != 0x20)
        {
            return false;
        }

        // 2001::/23 IETF protocol assignments (Teredo 2001::/32 among them), 2001:db8::/32 and 3fff::/20 documentation.
        if ((b[0] == 0x20 && b[1] == 0x01 && b[2] < 0x02) || (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
            || (b[0] == 0x3f && b[1] == 0xff && b[2] < 0x10))
        {
            return false;
        }

        // 2002::/16 6to4: the IPv4 address it embeds decides.
        return b[0] != 0x20 || b[1] != 0x02 || IsPublicV4(b[2], b[3], b[4], b[5]);
    }

    /// <summary>The URL's authority as written (after <c>scheme://</c>, up to the path, query or fragment), before any normalisation.</summary>
    private static string Authority(string url)
    {
        var start = url.IndexOf("://", StringComparison.Ordinal);
        if (start < 0)
        {
            return "";
        }

        var rest = url[(start + 3)..];
        var end = rest.IndexOfAny(['/', '\\', '?', '#']);
        return end < 0 ? rest : rest[..end];
    }

    private static string Shorten(string value) => value.Length <= 80 ? value : value[..80] + "…";
}
