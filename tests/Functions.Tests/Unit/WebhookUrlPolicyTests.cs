using System.Net;
using System.Net.Sockets;
using System.Text;
using AgentRuns.Functions.Webhooks;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Tests.Unit;

/// <summary>Only https to public addresses: every spelling of a private, loopback or metadata address is refused, at create and at connect.</summary>
public sealed class WebhookUrlPolicyTests
{
    /// <summary>Names the fake resolver knows; anything else does not resolve.</summary>
    private static readonly Dictionary<string, IPAddress[]> Names = new(StringComparer.OrdinalIgnoreCase)
    {
        ["public.test"] = [IPAddress.Parse("93.184.215.14")],
        ["public6.test"] = [IPAddress.Parse("2606:2800:21f:cb07:6820:80da:af6b:8b2c")],
        ["localhost"] = [IPAddress.Loopback, IPAddress.IPv6Loopback],
        ["internal.test"] = [IPAddress.Parse("10.0.0.7")],
        ["metadata.test"] = [IPAddress.Parse("169.254.169.254")],
        ["mixed.test"] = [IPAddress.Parse("93.184.215.14"), IPAddress.Parse("192.168.0.10")],
        ["mapped.test"] = [IPAddress.Parse("::ffff:127.0.0.1")],
        ["ula.test"] = [IPAddress.Parse("fd00::5")],
    };

    public static TheoryData<string> Refused => new()
    {
        "http://93.184.215.14/hook",                       // not https
        "http://public.test/hook",
        "ftp://93.184.215.14/hook",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "not a url",
        "/relative/path",
        "https://",
        "https://127.0.0.1/hook",                          // loopback
        "https://127.255.255.254/hook",
        "https://localhost/hook",
        "https://LOCALHOST./hook",
        "https://10.0.0.1/hook",                           // private
        "https://10.255.255.255/hook",
        "https://172.16.0.1/hook",
        "https://172.31.255.255/hook",
        "https://192.168.1.1/hook",
        "https://100.64.0.1/hook",                         // CGNAT
        "https://100.127.255.255/hook",
        "https://169.254.169.254/latest/meta-data/",       // cloud metadata, link-local
        "https://169.254.0.1/hook",
        "https://0.0.0.0/hook",                            // "this network"
        "https://0/hook",
        "https://0.1.2.3/hook",
        "https://224.0.0.1/hook",                          // multicast, reserved, broadcast
        "https://239.255.255.250/hook",
        "https://240.0.0.1/hook",
        "https://255.255.255.255/hook",
        "https://192.0.2.10/hook",                         // documentation, benchmarking
        "https://198.18.0.1/hook",
        "https://203.0.113.9/hook",
        "https://2130706433/hook",                         // 127.0.0.1 as one decimal number
        "https://0x7f.1/hook",                             // hex and short forms
        "https://0x7f000001/hook",
        "https://0177.0.0.1/hook",                         // octal
        "https://017700000001/hook",
        "https://127.1/hook",
        "https://127.0.0.1./hook",                         // trailing dot
        "https://\uff11\uff12\uff17.\uff10.\uff10.\uff11/hook", // full-width digits
        "https://0xa9.0xfe.0xa9.0xfe/hook",                // 169.254.169.254 in hex
        "https://[::1]/hook",                              // IPv6 loopback, unspecified
        "https://[::]/hook",
        "https://[0:0:0:0:0:0:0:1]/hook",
        "https://[fe80::1]/hook",                          // link-local
        "https://[fe80::1%25eth0]/hook",
        "https://[fc00::1]/hook",                          // unique local
        "https://[fd12:3456::1]/hook",
        "https://[ff02::1]/hook",                          // multicast
        "https://[::ffff:127.0.0.1]/hook",                 // IPv4-mapped
        "https://[::ffff:7f00:1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://[::ffff:169.254.169.254]/hook",
        "https://[0:0:0:0:0:ffff:192.168.0.1]/hook",
        "https://[::127.0.0.1]/hook",                      // IPv4-compatible (deprecated)
        "https://[64:ff9b::7f00:1]/hook",                  // NAT64 of 127.0.0.1
        "https://[64:ff9b::a9fe:a9fe]/hook",               // NAT64 of 169.254.169.254
        "https://[2002:7f00:1::1]/hook",                   // 6to4 of 127.0.0.1
        "https://[2002:a00:1::1]/hook",                    // 6to4 of 10.0.0.1
        "https://[2001:db8::1]/hook",                      // documentation
        "https://[2001::1]/hook",                          // Teredo
        "https://internal.test/hook",                      // names that resolve to refused addresses
        "https://metadata.test/hook",
        "https://mixed.test/hook",
        "https://mapped.test/hook",
        "https://ula.test/hook",
        "https://nowhere.test/hook",                       // does not resolve
        "https://user:secret@public.test/hook",            // user info
        "https://public.test@127.0.0.1/hook",
        "https://@public.test/hook",
        "https://public.test/hook#fragment",
        "https://public.test/" + new string('a', 2100),     // too long
    };

    public static TheoryData<string> Accepted => new()
    {
        "https://93.184.215.14/hook",
        "https://public.test/hook",
        "https://public.test:8443/a/b?c=d&e=f",
        "https://public6.test/hook",
        "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/hook",
        "https://[::ffff:93.184.215.14]/hook",
        "https://[64:ff9b::5db8:d70e]/hook",              // NAT64 of a public address
        "https://8.8.8.8/hook",
        "https://172.32.0.1/hook",                         // just outside 172.16.0.0/12
        "https://100.128.0.1/hook",                        // just outside 100.64.0.0/10
        "https://public.test/hook?email=a@b.test",         // '@' after the authority is fine
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task HostileUrls_AreRefused(string url)
    {
        var (uri, refusal) = await Policy(allowLoopback: false).CheckAsync(url, CancellationToken.None);
        Assert.Null(uri);
        Assert.False(string.IsNullOrWhiteSpace(refusal));
    }

    [Theory]
    [MemberData(nameof(Accepted))]
    public async Task HttpsUrlsToPublicAddresses_AreAccepted(string url)
    {
        var (uri, refusal) = await Policy(allowLoopback: false).CheckAsync(url, CancellationToken.None);
        Assert.True(refusal is null, refusal);
        Assert.NotNull(uri);
    }

    [Theory]
    [InlineData("http://127.0.0.1:8080/hook", true)]
    [InlineData("https://127.0.0.1:8443/hook", true)]
    [InlineData("http://localhost:8080/hook", true)]
    [InlineData("http://[::1]:8080/hook", true)]
    [InlineData("http://2130706433:8080/hook", true)]
    [InlineData("http://10.0.0.1/hook", false)]
    [InlineData("https://192.168.0.1/hook", false)]
    [InlineData("http://169.254.169.254/latest/meta-data/", false)]
    [InlineData("https://[fe80::1]/hook", false)]
    [InlineData("http://93.184.215.14/hook", false)]
    [InlineData("http://public.test/hook", false)]
    [InlineData("http://mixed.test/hook", false)]
    [InlineData("https://93.184.215.14/hook", true)]
    public async Task AllowLoopback_AllowsLoopbackOnly(string url, bool allowed)
    {
        var (_, refusal) = await Policy(allowLoopback: true).CheckAsync(url, CancellationToken.None);
        Assert.True(allowed == (refusal is null), $"{url}: {refusal ?? "allowed"}");
    }

    [Theory]
    [InlineData("93.184.215.14", true)]
    [InlineData("1.1.1.1", true)]
    [InlineData("9.255.255.255", true)]
    [InlineData("11.0.0.0", true)]
    [InlineData("172.15.255.255", true)]
    [InlineData("192.169.0.1", true)]
    [InlineData("223.255.255.255", true)]
    [InlineData("2a00:1450:4001:80b::200e", true)]
    [InlineData("10.0.0.0", false)]
    [InlineData("127.0.0.1", false)]
    [InlineData("169.254.169.254", false)]
    [InlineData("172.16.0.0", false)]
    [InlineData("192.168.255.255", false)]
    [InlineData("100.64.0.0", false)]
    [InlineData("0.0.0.0", false)]
    [InlineData("::", false)]
    [InlineData("::1", false)]
    [InlineData("fe80::1", false)]
    [InlineData("febf::1", false)]
    [InlineData("fc00::", false)]
    [InlineData("fdff:ffff::1", false)]
    [InlineData("ff05::2", false)]
    [InlineData("::ffff:127.0.0.1", false)]
    [InlineData("::ffff:93.184.215.14", true)]
    [InlineData("64:ff9b:1::1", false)]
    [InlineData("100::1", false)]
    [InlineData("3fff::1", false)]
    public void IsPublic_ClassifiesAddresses(string address, bool isPublic) =>
        Assert.Equal(isPublic, WebhookUrlPolicy.IsPublic(IPAddress.Parse(address)));

    [Fact]
    public async Task AtDelivery_ANameThatNowResolvesToLoopback_IsRefusedBeforeConnecting()
    {
        // DNS rebinding: public when the subscription was checked, loopback when the delivery connects.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var resolver = new SwitchingResolver(IPAddress.Parse("93.184.215.14"), IPAddress.Loopback);
        var policy = new WebhookUrlPolicy(Options.Create(new WebhookOptions()), resolver);
        var (checkedUrl, refusal) = await policy.CheckAsync($"https://rebind.test:{port}/hook", CancellationToken.None);
        Assert.True(refusal is null, refusal);
        using var transport = new HttpWebhookTransport(new PublicAddressConnector(policy, resolver));

        var result = await transport.PostAsync(checkedUrl!, "{}", [], TimeSpan.FromSeconds(10), CancellationToken.None);

        Assert.Null(result.StatusCode);
        Assert.StartsWith("Address not allowed", result.Error, StringComparison.Ordinal);
        Assert.False(listener.Pending(), "a connection reached the loopback listener");
        Assert.Equal(2, resolver.Calls);
    }

    [Fact]
    public async Task AtDelivery_AnIpLiteralToAPrivateAddress_IsRefused()
    {
        var policy = Policy(allowLoopback: false);
        using var transport = new HttpWebhookTransport(new PublicAddressConnector(policy, new FakeResolver()));
        var result = await transport.PostAsync(new Uri("https://10.0.0.1/hook"), "{}", [], TimeSpan.FromSeconds(10), CancellationToken.None);
        Assert.Null(result.StatusCode);
        Assert.StartsWith("Address not allowed", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("HTTP/1.1 204 No Content", 204, null)]
    [InlineData("HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/", 302, "Redirects are not followed.")]
    public async Task WithLoopbackAllowed_TheTransportConnectsToTheCheckedAddress_AndFollowsNoRedirect(string statusLine, int status, string? error)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var received = ServeOnceAsync(listener, statusLine);
        var policy = Policy(allowLoopback: true);
        using var transport = new HttpWebhookTransport(new PublicAddressConnector(policy, new FakeResolver()));

        var result = await transport.PostAsync(
            new Uri($"http://localhost:{port}/hook"), """{"a":1}""", [new("webhook-id", "msg_1")], TimeSpan.FromSeconds(10), CancellationToken.None);

        Assert.Equal(status, result.StatusCode);
        Assert.Equal(error, result.Error);
        var request = await received.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.StartsWith("POST /hook HTTP/1.1", request, StringComparison.Ordinal);
        Assert.Contains("webhook-id: msg_1", request, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AHostThatDoesNotResolveInTime_IsRefused_WithoutWaitingForever()
    {
        var policy = new WebhookUrlPolicy(Options.Create(new WebhookOptions()), new HangingResolver());
        var (uri, refusal) = await policy.CheckAsync("https://slow-dns.test/hook", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Null(uri);
        Assert.Contains("did not resolve within", refusal, StringComparison.Ordinal);
    }

    private static WebhookUrlPolicy Policy(bool allowLoopback) =>
        new(Options.Create(new WebhookOptions { AllowLoopback = allowLoopback }), new FakeResolver());

    private static async Task<string> ServeOnceAsync(TcpListener listener, string statusLine)
    {
        using var client = await listener.AcceptTcpClientAsync();
        var stream = client.GetStream();
        var buffer = new byte[8192];
        var request = new StringBuilder();
        while (!request.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer);
            if (read == 0)
            {
                break;
            }

            request.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        await stream.WriteAsync(Encoding.ASCII.GetBytes(statusLine + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
        return request.ToString();
    }

    private sealed class FakeResolver : IWebhookHostResolver
    {
        public Task<IReadOnlyList<IPAddress>> ResolveAsync(string host, CancellationToken cancellationToken) =>
            Names.TryGetValue(host, out var addresses)
                ? Task.FromResult<IReadOnlyList<IPAddress>>(addresses)
                : throw new SocketException((int)SocketError.HostNotFound);
    }

    /// <summary>Never answers until cancelled.</summary>
    private sealed class HangingResolver : IWebhookHostResolver
    {
        public async Task<IReadOnlyList<IPAddress>> ResolveAsync(string host, CancellationToken cancellationToken)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return [];
        }
    }

    /// <summary>Answers the first address once, then the second.</summary>
    private sealed class SwitchingResolver(IPAddress first, IPAddress then) : IWebhookHostResolver
    {
        public int Calls { get; private set; }

        public Task<IReadOnlyList<IPAddress>> ResolveAsync(string host, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<IPAddress>>([Calls++ == 0 ? first : then]);
    }
}
