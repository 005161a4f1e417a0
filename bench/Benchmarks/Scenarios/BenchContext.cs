using AgentRuns.Benchmarks.Infra;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AgentRuns.Benchmarks.Scenarios;

/// <summary>What the end-to-end scenarios share: the plan, the Azurite, the results, the progress log.</summary>
public sealed class BenchContext(Plan plan, AzuriteServer azurite, Results results)
{
    private readonly long _started = Clock.Now;

    public Plan Plan { get; } = plan;

    public AzuriteServer Azurite { get; } = azurite;

    public Results Results { get; } = results;

    /// <summary>The idle host's storage requests (from the cost scenario), to subtract from later windows.</summary>
    public StorageCounts? IdleBaseline { get; set; }

    public void Log(string message) =>
        Console.WriteLine($"[{TimeSpan.FromMilliseconds(Clock.MsSince(_started)):mm\\:ss}] {message}");

    /// <summary>A fresh local host (own ports, hub and tables), warmed up with a few approve flows and then left to settle.</summary>
    public async Task<HostProcess> StartHostAsync(string label)
    {
        var host = await HostProcess.StartAsync(Azurite.ConnectionString, HostSettings.Fresh(label));
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
}
