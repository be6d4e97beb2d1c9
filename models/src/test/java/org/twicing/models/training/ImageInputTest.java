package org.twicing.models.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.models.data.FashionMnist;

/** PNG to model input: grey, 28x28, normalised like Fashion-MNIST, light backgrounds inverted on request. */
class ImageInputTest {
  @TempDir
  Path tmp;

  private Path png(int background, int object) throws IOException {
    BufferedImage img = new BufferedImage(56, 56, BufferedImage.TYPE_INT_ARGB);
    for (int y = 0; y < 56; y++) {
      for (int x = 0; x < 56; x++) {
        int v = x >= 14 && x < 42 && y >= 14 && y < 42 ? object : background;
        img.setRGB(x, y, 0xff000000 | v << 16 | v << 8 | v);
      }
    }
    Path p = tmp.resolve("img-" + background + ".png");
    ImageIO.write(img, "png", p.toFile());
    return p;
  }

  @Test
  void darkBackgroundIsKeptAndNormalised() throws IOException {
    ImageInput.Loaded l = ImageInput.load(png(0, 255), 28, FashionMnist.MEAN, FashionMnist.STD,
        ImageInput.Invert.AUTO);
    assertFalse(l.inverted());
    assertEquals(784, l.pixels().length);
    assertEquals((float) ((0 - FashionMnist.MEAN) / FashionMnist.STD), l.pixels()[0], 1e-6);
    assertEquals((float) ((1 - FashionMnist.MEAN) / FashionMnist.STD), l.pixels()[14 * 28 + 14], 1e-6);
  }

  @Test
  void lightBackgroundIsInvertedInAutoMode() throws IOException {
    Path p = png(255, 0);
    ImageInput.Loaded l = ImageInput.load(p, 28, FashionMnist.MEAN, FashionMnist.STD, ImageInput.Invert.AUTO);
    assertTrue(l.inverted());
    assertEquals((float) ((0 - FashionMnist.MEAN) / FashionMnist.STD), l.pixels()[0], 1e-6);
    assertFalse(ImageInput.load(p, 28, FashionMnist.MEAN, FashionMnist.STD, ImageInput.Invert.OFF).inverted());
  }

  @Test
  void notAnImageNamesTheFile() throws IOException {
    Path bad = tmp.resolve("bad.png");
    Files.writeString(bad, "not a png");
    IOException e = assertThrows(IOException.class, () -> ImageInput.load(bad, 28, 0, 1));
    assertTrue(e.getMessage().startsWith(bad.toString()), e.getMessage());
  }
}
