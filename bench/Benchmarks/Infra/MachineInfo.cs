using System.Diagnostics;
using System.Runtime.InteropServices;

namespace AgentRuns.Benchmarks.Infra;

/// <summary>The machine a benchmark ran on, as the report states it.</summary>
public sealed record MachineInfo(
    int Cores,
    string CpuModel,
    string FreeH,
    string Os,
    string Kernel,
    string DotNetRuntime,
    string DotNetSdk,
    string Node,
    string Azurite,
    string LoadBefore,
    string? LoadAfter)
{
    public static async Task<MachineInfo> CollectAsync(string azuriteVersion) => new(
        Environment.ProcessorCount,
        File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?",
        (await RunAsync("free", "-h")).TrimEnd(),
        OsName(),
        RuntimeInformation.OSDescription,
        RuntimeInformation.FrameworkDescription,
        (await RunAsync("dotnet", "--version")).Trim(),
        (await RunAsync("node", "--version")).Trim(),
        azuriteVersion,
        LoadAverage(),
        null);

    public static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

    private static string OsName() =>
        File.Exists("/etc/os-release")
            ? File.ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))?[12..].Trim('"') ?? "Linux"
            : RuntimeInformation.OSDescription;

    private static async Task<string> RunAsync(string file, string arguments)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, UseShellExecute = false })!;
            var output = await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            return output;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "?";
        }
    }
}
