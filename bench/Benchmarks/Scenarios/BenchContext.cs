using AgentRuns.Benchmarks.Infra;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AgentRuns.Benchmarks.Scenarios;

/// <summary>
/// What the end-to-end scenarios share: the plan, the results, the progress log, and the emulator of the current host.
/// Every host gets an Azurite of its own: the emulator keeps all queue messages of an account in one collection whose
/// indexes it rebuilds after writes, so messages a previous host left behind (the timers of its runs' deadlines stay
/// queued until due, even when the signal won) would slow every later scenario down.
/// </summary>
public sealed class BenchContext(Plan plan, AzuriteServer azurite, string repositoryRoot, Results results) : IAsyncDisposable
{
    private readonly long _started = Clock.Now;
    private readonly List<(string Label, HostProcess Host)> _hosts = [];
    private bool _azuriteUsed;

    public Plan Plan { get; } = plan;

    /// <summary>The emulator of the host started last.</summary>
    public AzuriteServer Azurite { get; private set; } = azurite;

    public Results Results { get; } = results;

    /// <summary>The idle host's storage requests (from the cost scenario), to subtract from later windows.</summary>
    public StorageCounts? IdleBaseline { get; set; }

    public void Log(string message) =>
        Console.WriteLine($"[{TimeSpan.FromMilliseconds(Clock.MsSince(_started)):mm\\:ss}] {message}");

    /// <summary>A fresh local host (own ports, hub and tables), warmed up with a few approve flows and then left to settle.</summary>
    public async Task<HostProcess> StartHostAsync(string label)
    {
        if (_azuriteUsed)
        {
            await Azurite.DisposeAsync(); // its previous host is gone: every scenario disposes its host first
            Azurite = await AzuriteServer.StartAsync(repositoryRoot);
        }

        _azuriteUsed = true;
        var host = await HostProcess.StartAsync(Azurite.ConnectionString, HostSettings.Fresh(label));
        _hosts.Add((label, host));
        try
        {
            for (var i = 0; i < Plan.WarmupRuns; i++)
            {
                await Flows.GuideFlowAsync(host);
            }

            await Task.Delay(TimeSpan.FromSeconds(2));
            return host;
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    /// <summary>Records what every host of the run logged at warning level or above.</summary>
    public void CollectWarnings()
    {
        foreach (var (label, host) in _hosts)
        {
            var warnings = host.Warnings();
            if (warnings.Count > 0)
            {
                Results.HostWarnings[label] = warnings;
            }
        }
    }

    /// <summary>A Durable Task client of its own on the host's gRPC sidecar: the same backend the API's client uses.</summary>
    public static ServiceProvider DurableClientFor(HostProcess host)
    {
        var services = new ServiceCollection();
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Warning));
        services.AddDurableTaskClient(b => b.UseGrpc($"http://127.0.0.1:{host.Settings.GrpcPort}"));
        return services.BuildServiceProvider();
    }

    public static async Task SleepUntilAsync(long timestamp)
    {
        var left = TimeSpan.FromMilliseconds(-Clock.MsSince(timestamp));
        if (left > TimeSpan.Zero)
        {
            await Task.Delay(left);
        }
    }

    public static long After(long timestamp, TimeSpan span) => timestamp + (long)(span.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);

    public ValueTask DisposeAsync() => Azurite.DisposeAsync();
}
