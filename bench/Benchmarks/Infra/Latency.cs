using System.Diagnostics;

namespace AgentRuns.Benchmarks.Infra;

/// <summary>A latency distribution in milliseconds; percentiles by nearest rank.</summary>
public sealed record Latency(int N, double P50, double P95, double P99, double Min, double Max, double Mean)
{
    public static Latency Of(IEnumerable<double> milliseconds)
    {
        var sorted = milliseconds.Order().ToArray();
        if (sorted.Length == 0)
        {
            return new Latency(0, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);
        }

        return new Latency(sorted.Length, Rank(sorted, 0.50), Rank(sorted, 0.95), Rank(sorted, 0.99), sorted[0], sorted[^1], sorted.Average());
    }

    private static double Rank(double[] sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}

/// <summary>Monotonic time for durations.</summary>
public static class Clock
{
    public static long Now => Stopwatch.GetTimestamp();

    public static double Ms(long from, long to) => Stopwatch.GetElapsedTime(from, to).TotalMilliseconds;

    public static double MsSince(long from) => Stopwatch.GetElapsedTime(from).TotalMilliseconds;
}
