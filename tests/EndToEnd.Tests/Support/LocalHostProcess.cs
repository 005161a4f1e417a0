using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;

namespace AgentRuns.EndToEnd.Tests.Support;

/// <summary>
/// What one local host instance is: its ports, its task hub, its lease owner and its tables. A restarted host keeps all
/// of them; a new test takes fresh ones, so tests never see each other's runs.
/// </summary>
/// <param name="StorageConnectionString">Where its storage is: the shared Azurite unless a test brings its own.</param>
/// <param name="Settings">Further app settings (<c>Section__Key</c>) for this host.</param>
public sealed record LocalHostSettings(
    int HttpPort, int GrpcPort, string HubName, string WorkerId, string TablePrefix, string ApiKey,
    string? StorageConnectionString = null, IReadOnlyDictionary<string, string>? Settings = null)
{
    public static LocalHostSettings Fresh()
    {
        var id = Guid.NewGuid().ToString("N")[..12];
        var (http, grpc) = TwoFreePorts();
        return new LocalHostSettings(http, grpc, "t" + id, "localhost-tests", "t" + id, "ark_test_" + Guid.NewGuid().ToString("N"));
    }

    private static (int, int) TwoFreePorts()
    {
        // Both held at once, so the two are different.
        using var first = new TcpListener(IPAddress.Loopback, 0);
        using var second = new TcpListener(IPAddress.Loopback, 0);
        first.Start();
        second.Start();
        return (((IPEndPoint)first.LocalEndpoint).Port, ((IPEndPoint)second.LocalEndpoint).Port);
    }
}

/// <summary>
/// The local host as a child process, started the way a developer or CI starts it (<c>dotnet AgentRuns.LocalHost.dll</c>),
/// configured through environment variables, and ready once the API answers.
/// </summary>
public sealed class LocalHostProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output;

    private LocalHostProcess(Process process, ConcurrentQueue<string> output, LocalHostSettings settings)
    {
        _process = process;
        _output = output;
        Settings = settings;
        Http = CreateClient(TimeSpan.FromSeconds(30));
    }

    public LocalHostSettings Settings { get; }

    /// <summary>A client for this process only: a restarted host gets a new one, with no connection to the dead process.</summary>
    public HttpClient Http { get; }

    public Uri BaseAddress => new($"http://127.0.0.1:{Settings.HttpPort}");

    /// <summary>
    /// A client of this host with its API key, whose every response is checked against the OpenAPI document: a response the
    /// document does not describe fails the request with <see cref="AgentRuns.Testing.Contract.ApiContractViolationException"/>.
    /// </summary>
    public HttpClient CreateClient(TimeSpan timeout, string? apiKey = null)
    {
        var client = new HttpClient(new AgentRuns.Testing.Contract.ContractCheckingHandler()) { BaseAddress = BaseAddress, Timeout = timeout };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey ?? Settings.ApiKey);
        return client;
    }

    /// <summary>What the host printed (stdout and stderr), for failure messages.</summary>
    public string Output => string.Join(Environment.NewLine, _output);

    public static async Task<LocalHostProcess> StartAsync(LocalHostSettings settings)
    {
        if (settings.StorageConnectionString is null)
        {
            await Azurite.EnsureRunningAsync();
        }

        var start = LocalHostLaunch.StartInfo(
            settings.HttpPort, settings.GrpcPort, settings.HubName, settings.WorkerId, settings.StorageConnectionString ?? Azurite.ConnectionString,
            settings.TablePrefix, settings.ApiKey, tenant: "tests", settings.Settings);

        var output = new ConcurrentQueue<string>();
        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the local host.");
        process.OutputDataReceived += (_, e) => Collect(output, e.Data);
        process.ErrorDataReceived += (_, e) => Collect(output, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var host = new LocalHostProcess(process, output, settings);
        try
        {
            await host.WaitUntilReadyAsync();
            return host;
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    /// <summary>SIGKILL: no shutdown code runs, leases and in-flight work stay as they were.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await KillAsync();
        }

        Http.Dispose();
        _process.Dispose();
    }

    private Task WaitUntilReadyAsync() => LocalHostLaunch.WaitUntilReadyAsync(_process, Http, () => Output, StartTimeout);

    private static void Collect(ConcurrentQueue<string> output, string? line)
    {
        if (line is not null)
        {
            output.Enqueue(line);
        }
    }
}
