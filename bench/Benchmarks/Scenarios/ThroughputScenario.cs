using AgentRuns.Benchmarks.Infra;

namespace AgentRuns.Benchmarks.Scenarios;

/// <summary>Runs driven to completion per second by 1, 8 and 32 concurrent clients, each doing the guide's approve flow in a loop.</summary>
public static class ThroughputScenario
{
    public const string Method =
        "Each client loops over the guide's approve flow (create → stream → `run.awaiting_input` → approve at once → " +
        "`run.worker.succeeded`) for the set time; flows under way at the deadline finish and count. Runs/s = completed " +
        "flows ÷ time until the last one ended. Cores = CPU seconds used per second by the host, Azurite and the " +
        "benchmark process (all on the same machine). One fresh host for all levels, 3 s of quiet between them. Storage by time: the request kinds that took the most time in all (per completed run), with the mean time of one request as the host saw it.";

    public static async Task RunAsync(BenchContext context)
    {
        var plan = context.Plan;
        context.Log("throughput: starting a host");
        await using var host = await context.StartHostAsync("throughput");
        foreach (var clients in plan.Clients)
        {
            await Task.Delay(TimeSpan.FromSeconds(3));
            context.Log($"throughput: {clients} clients for {plan.ThroughputSeconds} s");
            var hostCpu = host.CpuSeconds();
            var azuriteCpu = HostProcess.ProcCpuSeconds(context.Azurite.ProcessId);
            var benchCpu = Environment.CpuUsage.TotalTime.TotalSeconds;
            await host.ReadStorageRequestsAsync(reset: true);
            var started = Clock.Now;
            var deadline = BenchContext.After(started, TimeSpan.FromSeconds(plan.ThroughputSeconds));
            var flows = new List<GuideFlowTimes>();
            await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
            {
                while (Clock.Now < deadline)
                {
                    var flow = await Flows.GuideFlowAsync(host);
                    lock (flows)
                    {
                        flows.Add(flow);
                    }
                }
            }));
            var seconds = Clock.MsSince(started) / 1000;
            var storage = await host.ReadStorageRequestsAsync(reset: true);
            var result = new ThroughputResult(
                clients,
                flows.Count,
                Math.Round(seconds, 2),
                Math.Round(flows.Count / seconds, 2),
                Latency.Of(flows.Select(f => f.CreateMs)),
                Latency.Of(flows.Select(f => f.SignalToResumeMs)),
                Latency.Of(flows.Select(f => f.TotalMs)),
                Math.Round((host.CpuSeconds() - hostCpu) / seconds, 2),
                Math.Round((HostProcess.ProcCpuSeconds(context.Azurite.ProcessId) - azuriteCpu) / seconds, 2),
                Math.Round((Environment.CpuUsage.TotalTime.TotalSeconds - benchCpu) / seconds, 2),
                Math.Round(storage.Total / storage.Seconds, 1),
                CostScenario.Top(storage.Per(flows.Count), take: 8, byTime: true));
            context.Results.Throughput.Add(result);
            context.Log($"throughput: {clients} clients: {result.RunsPerSecond} runs/s (host {result.HostCores}, azurite {result.AzuriteCores}, bench {result.BenchCores} cores)");
        }
    }
}
